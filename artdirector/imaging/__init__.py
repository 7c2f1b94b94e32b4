"""Image and clip generation: interface, diffusers backend, metadata, best-of-n."""
