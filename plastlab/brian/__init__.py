"""The boundary to Brian2: everything that writes Brian2 objects or code."""
