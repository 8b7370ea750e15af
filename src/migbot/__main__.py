from migbot.cli import main

raise SystemExit(main())
