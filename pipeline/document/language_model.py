"""Importing this loads py3langid's model (0.8 s of CPU), which it otherwise loads at its first `classify`.

The document workers' pool preloads it: the forkserver loads the model once and every worker starts with it,
instead of each worker loading it again at its first document.
"""

import py3langid

py3langid.classify("warm up")
