# cases_drop.py - golden cases for dropout.c: Dropout1d, Dropout2d,
# Dropout3d, AlphaDropout, FeatureAlphaDropout.  Eval is the identity;
# under --train the masks are random (seqrun's stream, not PyTorch's), so
# only p = 0 (identity) and p = 1 (input * 0) have exact answers here; the
# distributions under 0 < p < 1 are checked statistically in
# tests/test_layers.c (test_dropout_family).  Run in gen.py's namespace.
own("drop_")

NAN, INF = float("nan"), float("inf")
DSPECIAL = [0.0, -0.0, NAN, INF, -INF, 1e30, -1e30, -1.0]


def dspec(name, *shape):
    a = randn(name, *shape).ravel()
    a[:len(DSPECIAL)] = DSPECIAL
    return a.reshape(shape)


# ---- eval: identity, every argument non-default ---------------------------------
case("drop_1d_eval", layers("Dropout1d: {p: 0.3, inplace: true}"), dspec("drop_1d_eval", 3, 4, 5))
case("drop_1d_eval_unbatched", layers("Dropout1d: [0.7, true]"), randn("drop_1d_eval_unbatched", 4, 5))
case("drop_2d_eval", layers("Dropout2d: {p: 0.2, inplace: true}"), dspec("drop_2d_eval", 2, 3, 4, 5))
# 3-D input: PyTorch 1.13 takes it as (N, C, L) (with a warning)
case("drop_2d_eval_3d", layers("Dropout2d: 0.6"), randn("drop_2d_eval_3d", 3, 4, 5))
case("drop_3d_eval", layers("Dropout3d: [0.4, true]"), dspec("drop_3d_eval", 2, 3, 2, 3, 2))
case("drop_3d_eval_unbatched", layers("Dropout3d: {p: 0.9}"), randn("drop_3d_eval_unbatched", 3, 2, 3, 2))
case("drop_alpha_eval", layers("AlphaDropout: {p: 0.1, inplace: true}"), dspec("drop_alpha_eval", 4, 8))
case("drop_alpha_eval_1d", layers("AlphaDropout: 0.5"), randn("drop_alpha_eval_1d", 6))
case("drop_falpha_eval", layers("FeatureAlphaDropout: {p: 0.9, inplace: true}"), dspec("drop_falpha_eval", 2, 3, 4, 4))
case("drop_falpha_eval_2d", layers("FeatureAlphaDropout: 0.25"), randn("drop_falpha_eval_2d", 5, 7))
# between layers (nothing to run in eval: a view)
case("drop_eval_chain", layers("Conv2d: [3, 8, 3]", "Dropout2d: 0.5", "ReLU", "Conv2d: [8, 4, 3]", "Dropout3d: 0.1",
                               "Flatten", "AlphaDropout: 0.3", "Linear: [64, 10]", "SELU", "FeatureAlphaDropout: 0.2",
                               "Unflatten: [1, [2, 5]]", "Dropout1d: 0.5"),
     randn("drop_eval_chain", 3, 3, 8, 8), scale="fan_in", args="--batch-size 2")

# ---- --train with p = 0: the identity --------------------------------------------
case("drop_1d_train_p0", layers("Dropout1d: {p: 0.0, inplace: true}"), dspec("drop_1d_train_p0", 2, 3, 4), train=True)
case("drop_2d_train_p0", layers("Dropout2d: [0, true]"), dspec("drop_2d_train_p0", 2, 3, 2, 2), train=True)
case("drop_3d_train_p0", layers("Dropout3d: 0.0"), dspec("drop_3d_train_p0", 3, 2, 2, 2), train=True)
case("drop_alpha_train_p0", layers("AlphaDropout: {p: 0, inplace: true}"), dspec("drop_alpha_train_p0", 3, 5),
     train=True)
case("drop_falpha_train_p0", layers("FeatureAlphaDropout: 0.0"), dspec("drop_falpha_train_p0", 2, 4, 3), train=True)
# p = 0 takes any rank, even where a mask would need a channel dim
case("drop_falpha_train_p0_1d", layers("FeatureAlphaDropout: 0.0"), randn("drop_falpha_train_p0_1d", 5), train=True)

# ---- --train with p = 1: input * 0 (NaN and infinities give NaN) --------------------
case("drop_1d_train_p1", layers("Dropout1d: {p: 1.0, inplace: true}"), dspec("drop_1d_train_p1", 3, 5), train=True)
case("drop_2d_train_p1", layers("Dropout2d: [1, true]"), dspec("drop_2d_train_p1", 2, 3, 2, 2), train=True)
case("drop_3d_train_p1", layers("Dropout3d: 1.0"), dspec("drop_3d_train_p1", 2, 2, 2, 2, 2), train=True)
case("drop_alpha_train_p1", layers("AlphaDropout: {p: 1.0, inplace: true}"), dspec("drop_alpha_train_p1", 3, 5),
     train=True)
case("drop_falpha_train_p1", layers("FeatureAlphaDropout: 1.0", "Tanh"), dspec("drop_falpha_train_p1", 2, 4, 3),
     train=True)
# p = 1 never builds a mask: any rank
case("drop_falpha_train_p1_1d", layers("FeatureAlphaDropout: 1.0"), randn("drop_falpha_train_p1_1d", 5), train=True)
case("drop_2d_train_p1_1d", layers("Dropout2d: 1.0"), randn("drop_2d_train_p1_1d", 5), train=True)
case("drop_train_p1_chain", layers("Linear: [6, 8]", "AlphaDropout: 1.0", "Linear: [8, 4]", "Dropout1d: 1.0"),
     randn("drop_train_p1_chain", 3, 6), train=True, args="--batch-size 2")
