"""``python -m postrender`` runs the command line."""

from postrender.entry import main

main()
