"""Decoders turn what the bitstream carries into frames (registry: ``actdiff.registry.DECODERS``)."""
