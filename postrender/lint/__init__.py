"""Static checks of rules files, one module per check (see ``postrender.lint.checks``)."""
