"""The rules side: rules files and presets, loaded and checked once into a typed ``RuleSet``."""
