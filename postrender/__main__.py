"""``python -m postrender`` runs the command line."""

from postrender.cli.fast import main

main()
