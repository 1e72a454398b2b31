"""Adapters around the pipeline for the tools that run it: Helm 4's plugin mode, kustomize."""
