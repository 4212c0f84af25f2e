"""The platform the render becomes: ArgoCD sync, identity and reachability, modelled offline.

`helm` expands every ArgoCD Application with a Helm source into the objects the real
`helm template` produces, so the gates see add-on objects too (docs/helm.md).
"""
