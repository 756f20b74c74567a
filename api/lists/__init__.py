"""Red and black lists (Art. 25): providers' identification rules and list entries."""
