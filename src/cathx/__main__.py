import sys

from cathx.cli import main

sys.exit(main())
