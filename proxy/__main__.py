import sys

from proxy.entry import main

sys.exit(main())
