"""The platform the render becomes: what ArgoCD would apply and how it connects.

`helm` expands every ArgoCD Application with a Helm source into the objects the real
`helm template` produces, so the gates see add-on objects too. Other modules beside it
simulate ArgoCD syncs, identity and network reachability.
"""
