"""Room 3: services the CLI calls: read views, and plan / apply for changes."""
