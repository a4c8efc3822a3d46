"""pmemctl room."""
