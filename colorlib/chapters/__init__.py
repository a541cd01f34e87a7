"""What the notebooks call to tell their chapter's story: figures and computed sentences.

One module per chapter, named after it (d2l's way): the library below knows nothing of the
course, and a notebook's helpers are found beside the notebook's number.
"""
