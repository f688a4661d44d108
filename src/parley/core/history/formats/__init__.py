"""The built-in import formats; importing this package registers each of them."""
