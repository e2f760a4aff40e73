"""The kserve-container's entry point: `modelserver.py NAME MODEL_DIR HTTP_PORT`.

Runs as its own process with the interpreter of a venv holding KServe's Python SDK and
scikit-learn (the contents of KServe's sklearnserver image): a `kserve.Model` that loads the one
joblib/pickle file the storage-initializer downloaded and serves it with `kserve.ModelServer`,
which speaks KServe's v1 and Open Inference (v2) protocols. A missing or corrupt file fails to
load for real, and the process exits with the error, as the real server does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

MODEL_EXTENSIONS = (".joblib", ".pkl", ".pickle")


def main(argv: list[str]) -> int:
    """Load the model, then serve it until terminated."""
    import joblib
    import kserve
    from kserve.errors import InferenceError, ModelMissingError
    from kserve.utils.utils import get_predict_input, get_predict_response

    name, model_dir, port = argv[0], Path(argv[1]), int(argv[2])

    class SKLearnModel(kserve.Model):
        """A scikit-learn model behind KServe's protocols."""

        def load(self) -> bool:
            files = [
                model_dir / f
                for f in os.listdir(model_dir)
                if (model_dir / f).is_file() and f.endswith(MODEL_EXTENSIONS)
            ]
            if not files:
                raise ModelMissingError(str(model_dir))
            if len(files) > 1:
                raise RuntimeError(
                    f"More than one model file is detected, Only one is allowed "
                    f"within model_dir: {files}"
                )
            self._model = joblib.load(files[0])
            self.ready = True
            return self.ready

        def predict(self, payload, headers=None):
            instances = get_predict_input(payload)
            try:
                result = self._model.predict(instances)
            except Exception as error:
                raise InferenceError(str(error)) from error
            return get_predict_response(payload, result, self.name)

    model = SKLearnModel(name)
    model.load()
    kserve.ModelServer(http_port=port, enable_grpc=False, workers=1).start([model])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
