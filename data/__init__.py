"""Small data sets shipped with plastlab (``plastlab.data``): measurements no well-kept package ships."""
