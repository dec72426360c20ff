"""RLHF Studio's library: data, reward models, policy optimisation, jobs and the ratings store.

Nothing heavy happens at import time: torch and models load lazily inside functions.
The library never imports Streamlit and never prints; it returns values and yields metrics.
"""

__version__ = "0.1.0"
