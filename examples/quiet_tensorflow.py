"""Loads TensorFlow without its start-up log lines, so that a tutorial prints only the tutorial.

Import it before anything that imports TensorFlow (Keras, swiftdiff). TensorFlow's C++ libraries
log while they load, before TF_CPP_MIN_LOG_LEVEL applies, straight to file descriptor 2 (Python
cannot filter them): absl's "WARNING: All log messages before absl::InitializeLog() is called are
written to STDERR", oneDNN's "I... port.cc] oneDNN custom operations are on" and, without a GPU
driver, "I... cudart_stub.cc] Could not find cuda drivers", once per library that carries them.
While TensorFlow loads, descriptor 2 goes to a temporary file; afterwards every line of it that is
not an absl INFO or WARNING line is passed on to stderr (errors and Python warnings still show).
Later log lines (such as a failed cuInit on the first operation) obey TF_CPP_MIN_LOG_LEVEL, set to
3 here unless already set.
"""

import os
import re
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: absl's pre-initialization notice, and its INFO / WARNING lines ("I0000 00:00:17... port.cc:153] ...").
START_UP_LINE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.-]+:\d+\] "
)


def _load_tensorflow_quietly() -> None:
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not START_UP_LINE.match(line):
                    sys.stderr.write(line)


if "tensorflow" not in sys.modules:
    _load_tensorflow_quietly()
