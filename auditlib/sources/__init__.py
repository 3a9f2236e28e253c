"""Readers of sources that are not scanner documents: build files such as Dockerfiles."""
