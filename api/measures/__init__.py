"""Joint reward and punishment measures (Art. 26-28): the public registry."""
