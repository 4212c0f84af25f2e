"""The platform the render becomes: ArgoCD sync, identity and reachability, modelled offline."""
