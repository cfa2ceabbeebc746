from mwrelease.cli import main

main()
