"""Warga's custom Rasa 3.6 graph component: a TF-IDF featurizer (runs inside .venv-rasa).

Rasa's own sparse featurizer (CountVectorsFeaturizer) gives raw counts, and its
LogisticRegressionClassifier fixes C at 1. On Warga's data that pair reached 0.880 accuracy in
5-fold cross-validation; the same n-grams weighted the way the sklearn engine weights them
(sublinear TF × IDF, each block L2-normalised) reached 0.90 (docs/BENCHMARKS.md). Rasa documents
exactly this kind of component as its example of a custom graph component.

Used in nlu/rasa/config.yml as ``warga_rasa.TfidfFeaturizer``; Warga's Rasa processes get this
directory on PYTHONPATH (nlu/rasa_server.py). This module imports Rasa and scikit-learn only,
never the gateway: it must load in Rasa's Python 3.10 virtualenv.

The model stores the vocabulary (JSON) and the IDF weights (``.npy``, no pickle), and the
transform is computed here (counts → 1 + log → × IDF → L2 → × scale), so a model does not depend
on scikit-learn's private attributes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

logger = logging.getLogger(__name__)

_ANALYZERS = ("word", "char", "char_wb")
_VOCABULARY = "vocabulary.json"
_IDF = "idf.npy"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class TfidfFeaturizer(SparseFeaturizer, GraphComponent):
    """Sentence-level TF-IDF features of the message text (word or character n-grams).

    Config:
        analyzer: ``word`` | ``char`` | ``char_wb`` (character n-grams inside word boundaries).
        min_ngram, max_ngram: n-gram range.
        token_pattern: word tokens (``word`` analyzer); default: any run of non-space.
        sublinear_tf: 1 + log(count) instead of the count.
        min_df: ignore n-grams in fewer training messages than this.
        scale: multiplies the L2-normalised vector. Rasa's LogisticRegressionClassifier has
            no C option (it is 1); scaling the features by s is the same as C = s² for an
            L2-penalised linear model.

    Only sentence features are produced (for sentence classifiers such as
    LogisticRegressionClassifier), not token sequence features.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **SparseFeaturizer.get_default_config(),
            "analyzer": "word",
            "min_ngram": 1,
            "max_ngram": 1,
            "token_pattern": r"\S+",
            "sublinear_tf": True,
            "min_df": 1,
            "scale": 1.0,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        vocabulary: dict[str, int] | None = None,
        idf: np.ndarray | None = None,
    ) -> None:
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary
        self._idf = idf
        self._counter: CountVectorizer | None = None
        if vocabulary is not None:
            self._counter = self._count_vectorizer(vocabulary)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if config.get("analyzer") not in _ANALYZERS:
            raise InvalidConfigException(
                f"TfidfFeaturizer: analyzer must be one of {_ANALYZERS}, not {config.get('analyzer')!r}"
            )
        lo, hi = config.get("min_ngram"), config.get("max_ngram")
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            raise InvalidConfigException(f"TfidfFeaturizer: need 1 <= min_ngram <= max_ngram, got {lo}, {hi}")
        if not float(config.get("scale", 0)) > 0:
            raise InvalidConfigException("TfidfFeaturizer: scale must be > 0")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TfidfFeaturizer:
        return cls(config, model_storage, resource, execution_context)

    def _vectorizer_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "analyzer": self._config["analyzer"],
            "ngram_range": (self._config["min_ngram"], self._config["max_ngram"]),
            "lowercase": True,
        }
        if self._config["analyzer"] == "word":
            options["token_pattern"] = self._config["token_pattern"]
        return options

    def _count_vectorizer(self, vocabulary: dict[str, int]) -> CountVectorizer:
        return CountVectorizer(vocabulary=vocabulary, **self._vectorizer_options())

    def train(self, training_data: TrainingData) -> Resource:
        texts = [m.get(TEXT) for m in training_data.training_examples if m.get(TEXT)]
        if not texts:
            logger.debug("TfidfFeaturizer: no texts to train on")
            return self._resource
        vectorizer = TfidfVectorizer(
            sublinear_tf=self._config["sublinear_tf"], min_df=self._config["min_df"], **self._vectorizer_options()
        )
        vectorizer.fit(texts)
        self._vocabulary = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
        self._idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self._counter = self._count_vectorizer(self._vocabulary)
        self.persist()
        return self._resource

    def _transform(self, texts: list[str]) -> scipy.sparse.csr_matrix:
        assert self._counter is not None and self._idf is not None
        x = self._counter.transform(texts).astype(np.float64)
        if self._config["sublinear_tf"]:
            x.data = 1.0 + np.log(x.data)
        x = x @ scipy.sparse.diags(self._idf)
        x = normalize(x, norm="l2", copy=False)
        return (x * float(self._config["scale"])).tocsr()

    def _featurize(self, messages: list[Message]) -> None:
        if self._counter is None:
            return
        texts = [m.get(TEXT) or "" for m in messages]
        matrix = self._transform(texts)
        for i, message in enumerate(messages):
            if message.get(TEXT) is None:
                continue
            # Empty text still gets a (zero) row: the classifier stacks one row per message.
            self.add_features_to_message(None, matrix[i].tocoo(), TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages

    def persist(self) -> None:
        assert self._idf is not None, "persist() runs after train()"
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / _VOCABULARY).write_text(json.dumps(self._vocabulary, ensure_ascii=False), encoding="utf-8")
            np.save(model_dir / _IDF, self._idf, allow_pickle=False)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TfidfFeaturizer:
        try:
            with model_storage.read_from(resource) as model_dir:
                vocabulary = json.loads((model_dir / _VOCABULARY).read_text(encoding="utf-8"))
                idf = np.load(model_dir / _IDF, allow_pickle=False)
        except (ValueError, FileNotFoundError):
            logger.debug("TfidfFeaturizer: no trained resource %s; featurizer is untrained", resource.name)
            return cls(config, model_storage, resource, execution_context)
        return cls(config, model_storage, resource, execution_context, vocabulary=vocabulary, idf=idf)
