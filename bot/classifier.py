"""A small multinomial logistic regression (L2, L-BFGS) on sparse features, deterministic and quick to train."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores


class SoftmaxRegression:
    """Multinomial logistic regression. Training starts from zeros and uses no randomness, so the same
    data always gives the same weights."""

    def __init__(self, labels: Sequence[str], l2: float = 1e-3, iterations: int = 40) -> None:
        self.labels = list(labels)
        self.l2 = l2
        self.iterations = iterations
        self.weights = np.zeros((0, len(self.labels)))
        self.bias = np.zeros(len(self.labels))

    @classmethod
    def from_weights(
        cls, labels: Sequence[str], weights: np.ndarray, bias: np.ndarray, l2: float, iterations: int
    ) -> SoftmaxRegression:
        """A model as trained before, from its labels and weights."""
        if weights.ndim != 2 or weights.shape[1] != len(labels) or bias.shape != (len(labels),):
            raise ValueError("a model's weights must have one column per label")
        model = cls(labels, l2=l2, iterations=iterations)
        model.weights = weights.astype(np.float64, copy=False)
        model.bias = bias.astype(np.float64, copy=False)
        return model

    def fit(
        self, features: sp.csr_matrix, targets: Sequence[str], sample_weight: np.ndarray | None = None
    ) -> SoftmaxRegression:
        n, d = features.shape
        k = len(self.labels)
        position = {label: i for i, label in enumerate(self.labels)}
        onehot = np.zeros((n, k))
        onehot[np.arange(n), [position[t] for t in targets]] = 1.0
        weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        weight = weight / weight.sum()
        features_t = features.T.tocsr()

        def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w = theta[: d * k].reshape(d, k)
            b = theta[d * k :]
            scores = features @ w + b
            scores -= scores.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(scores).sum(axis=1))
            loss = float(weight @ (log_norm - (scores * onehot).sum(axis=1))) + 0.5 * self.l2 * float(
                np.sum(w * w)
            )
            residual = (np.exp(scores - log_norm[:, None]) - onehot) * weight[:, None]
            grad_w = features_t @ residual + self.l2 * w
            return loss, np.concatenate([grad_w.ravel(), residual.sum(axis=0)])

        theta = _lbfgs(loss_and_gradient, np.zeros(d * k + k), self.iterations)
        self.weights = theta[: d * k].reshape(d, k)
        self.bias = theta[d * k :]
        return self

    def predict_proba(self, features: sp.csr_matrix) -> np.ndarray:
        return _softmax(np.asarray(features @ self.weights) + self.bias)


def _lbfgs(
    function: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta: np.ndarray,
    iterations: int,
    memory: int = 5,
) -> np.ndarray:
    """Minimise a smooth convex function with limited-memory BFGS and a backtracking (Armijo) line search."""
    loss, grad = function(theta)
    steps: list[tuple[np.ndarray, np.ndarray, float]] = []
    scratch = np.empty_like(theta)  # in-place updates: fresh megabyte arrays cost more than the maths
    for _ in range(iterations):
        direction = np.negative(grad)
        alphas = []
        for s, y, rho in reversed(steps):
            alpha = rho * _dot(s, direction, scratch)
            alphas.append(alpha)
            direction -= np.multiply(y, alpha, out=scratch)
        if steps:
            s, y, _ = steps[-1]
            direction *= _dot(s, y, scratch) / _dot(y, y, scratch)
        else:
            direction /= max(1.0, _dot(direction, direction, scratch) ** 0.5)
        for (s, y, rho), alpha in zip(steps, reversed(alphas), strict=True):
            beta = rho * _dot(y, direction, scratch)
            direction += np.multiply(s, alpha - beta, out=scratch)
        slope = _dot(grad, direction, scratch)
        if slope >= 0:
            direction, slope = np.negative(grad), -_dot(grad, grad, scratch)
        step = 1.0
        for _ in range(20):
            candidate = theta + step * direction
            new_loss, new_grad = function(candidate)
            if new_loss <= loss + 1e-4 * step * slope:
                break
            step *= 0.5
        else:
            break
        s = np.subtract(candidate, theta, out=theta)  # theta is not needed again
        y = np.subtract(new_grad, grad, out=grad)
        curvature = _dot(s, y, scratch)
        if curvature > 1e-12:
            steps.append((s, y, 1.0 / curvature))
            steps = steps[-memory:]
        converged = abs(loss - new_loss) <= 1e-7 * max(1.0, abs(loss))
        theta, loss, grad = candidate, new_loss, new_grad
        if converged:
            break
    return theta


def _dot(a: np.ndarray, b: np.ndarray, scratch: np.ndarray) -> float:
    """a · b without BLAS: OpenBLAS spreads long dot products over threads that spin, which on a busy
    two-core machine made training several times slower than this single-threaded sum."""
    return float(np.multiply(a, b, out=scratch).sum())
