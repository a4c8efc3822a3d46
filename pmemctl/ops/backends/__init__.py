"""Ways to carry out namespace steps other than pmemctl's own sysfs writes."""
