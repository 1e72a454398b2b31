"""``python -m postrender`` runs the command line."""

from postrender.cli import main

main()
