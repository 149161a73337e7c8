import sys

from lbfgs_impl.cli import main

sys.exit(main())
