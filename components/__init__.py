"""Conflux components: the built-in ones (one directory each), the catalog and the image builder.

A component directory holds ``component.json`` plus plain Python modules run by
``conflux_runtime`` inside a container; see docs/component-guide.md.
"""
