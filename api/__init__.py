"""Public credit information sharing platform."""
