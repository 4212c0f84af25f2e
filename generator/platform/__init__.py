"""Whole-platform checks: the render as ArgoCD, Helm and the cluster network would see it."""
