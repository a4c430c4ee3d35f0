from openrft.cli import main

main()
