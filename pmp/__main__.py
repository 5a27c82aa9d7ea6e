from pmp.cli import main

main()
