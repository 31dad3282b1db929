from postrender.cli import main

raise SystemExit(main())
