from experimently.cli import main

main()
