# cases_act.py - golden cases for activation2.c (PReLU, RReLU, SELU, CELU,
# Hardswish, Hardsigmoid, Mish, LogSigmoid, Softsign, Threshold, Hardshrink,
# Softshrink, Tanhshrink, GLU, Softmin, Softmax2d) and the vectorised GELU
# (activation.c).  Run in gen.py's namespace (case, layers, L, randn, ...).
own("act_")

NAN, INF = float("nan"), float("inf")
# values every elementwise case starts with: signed zeros, NaN, infinities,
# magnitudes where exp() under- and overflows, tiny ones
SPECIAL = [0.0, -0.0, NAN, INF, -INF, 1e4, -1e4, 100.0, -100.0, 30.0, -30.0, 1e-6, -1e-6, 1e-30, -1e-30,
           88.0, -88.0, 90.0, -90.0, -104.0, -110.0]


def f32near(*ts):
    """Each t (exactly representable) and its float32 neighbours."""
    out = []
    for t in ts:
        t = np.float32(t)
        out += [float(np.nextafter(t, np.float32(-INF))), float(t), float(np.nextafter(t, np.float32(INF)))]
    return out


def spec(name, *shape, scale=1.0, vals=(), offset=0.0):
    """randn(name, *shape) with its first values replaced by vals."""
    a = randn(name, *shape, scale=scale, offset=offset).ravel()
    v = np.array(list(vals), np.float32)
    assert v.size <= a.size, (name, v.size, a.size)
    a[:v.size] = v
    return a.reshape(shape)


def sweep(lo, hi, n):
    """n evenly spaced float32 values in [lo, hi]."""
    return np.linspace(lo, hi, n, dtype=np.float64).astype(np.float32)


# ---- PReLU -----------------------------------------------------------------------
# no weights: every slope is init (0.25 by default)
case("act_prelu_default_init", layers("PReLU"), spec("act_prelu_default_init", 4, 8, vals=SPECIAL[:8]),
     weights=False)
case("act_prelu_default_init_c", layers("PReLU: {num_parameters: 4, init: -0.3}"),
     randn("act_prelu_default_init_c", 2, 4, 3), weights=False)
# one slope per channel, 4-D, 3-D, and [N, C] (one slope per element of a row)
case("act_prelu_c_4d", layers("PReLU: {num_parameters: 3, init: 0.1}"),
     spec("act_prelu_c_4d", 2, 3, 4, 5, vals=SPECIAL))
case("act_prelu_c_3d", layers("PReLU: [4, -0.5]"), randn("act_prelu_c_3d", 3, 4, 7))
case("act_prelu_c_2d", layers("PReLU: [6]"), spec("act_prelu_c_2d", 5, 6, vals=SPECIAL))
# one shared slope over an unbatched vector and a 5-D input
case("act_prelu_1d", layers("PReLU: {init: 0.7}"), randn("act_prelu_1d", 9))
case("act_prelu_5d", layers("PReLU: 1"), randn("act_prelu_5d", 2, 2, 3, 2, 2))
case("act_prelu_conv", layers("Conv2d: [3, 16, 3, 1, 1]", "PReLU: 16", "Conv2d: [16, 8, 3, 2, 1]", "PReLU"),
     randn("act_prelu_conv", 5, 3, 9, 9), scale="fan_in", args="--threads 2 --batch-size 2")
case("act_prelu_linear", layers("Linear: [10, 12]", "PReLU: 12", "Linear: [12, 3]"),
     randn("act_prelu_linear", 7, 10))

# ---- elementwise ------------------------------------------------------------------
case("act_hardswish", layers("Hardswish: {inplace: true}"),
     spec("act_hardswish", 6, 20, scale=4.0, vals=SPECIAL + f32near(-3.0, 3.0, 0.0)))
case("act_hardswish_1d", layers("Hardswish"), sweep(-5, 5, 1001))
case("act_hardsigmoid", layers("Hardsigmoid: [true]"),
     spec("act_hardsigmoid", 6, 20, scale=4.0, vals=SPECIAL + f32near(-3.0, 3.0)))
case("act_selu", layers("SELU: {inplace: true}"), spec("act_selu", 6, 20, scale=3.0, vals=SPECIAL))
case("act_selu_sweep", layers("SELU"), sweep(-20, 5, 2001))
case("act_celu", layers("CELU: {alpha: 0.5, inplace: true}"), spec("act_celu", 6, 20, scale=3.0, vals=SPECIAL))
case("act_celu_pos", layers("CELU: [3.0, false]"), sweep(-40, 5, 1501))
case("act_celu_neg_alpha", layers("CELU: -2"), spec("act_celu_neg_alpha", 3, 4, 10, scale=3.0, vals=SPECIAL))
case("act_mish", layers("Mish: {inplace: true}"),
     spec("act_mish", 6, 20, scale=6.0, vals=SPECIAL + f32near(20.0, -20.0)))
case("act_mish_sweep", layers("Mish"), sweep(-30, 30, 3001))
case("act_logsigmoid", layers("LogSigmoid"), spec("act_logsigmoid", 6, 20, scale=10.0, vals=SPECIAL))
case("act_logsigmoid_sweep", layers("LogSigmoid"), sweep(-120, 40, 3201))
case("act_softsign", layers("Softsign"), spec("act_softsign", 2, 3, 20, scale=10.0, vals=SPECIAL[:2] + SPECIAL[5:]))
# Softsign(+-inf) is inf/inf = NaN, in PyTorch too
case("act_softsign_inf", layers("Softsign"), np.array([INF, -INF, NAN, 1.0], np.float32))
case("act_tanhshrink", layers("Tanhshrink"), spec("act_tanhshrink", 6, 20, scale=3.0, vals=SPECIAL))
case("act_tanhshrink_sweep", layers("Tanhshrink"), sweep(-12, 12, 2401))
# thresholds exactly representable in float32, with their neighbours
case("act_threshold", layers("Threshold: {threshold: 0.5, value: -2.0, inplace: true}"),
     spec("act_threshold", 4, 20, vals=SPECIAL + f32near(0.5)))
case("act_threshold_pos", layers("Threshold: [-1, 20]"), spec("act_threshold_pos", 2, 30, vals=f32near(-1.0)))
case("act_hardshrink", layers("Hardshrink: {lambd: 0.25}"),
     spec("act_hardshrink", 4, 20, vals=SPECIAL + f32near(0.25, -0.25)))
case("act_hardshrink_pos", layers("Hardshrink: [1.5]"), spec("act_hardshrink_pos", 3, 20, scale=2.0,
                                                              vals=f32near(1.5, -1.5)))
# a negative lambd keeps everything (PyTorch accepts it for Hardshrink)
case("act_hardshrink_neg", layers("Hardshrink: -1.0"), randn("act_hardshrink_neg", 3, 8))
case("act_softshrink", layers("Softshrink: {lambd: 1.5}"),
     spec("act_softshrink", 4, 20, scale=2.0, vals=SPECIAL + f32near(1.5, -1.5)))
case("act_softshrink_zero", layers("Softshrink: 0"), spec("act_softshrink_zero", 3, 8, vals=[0.0, -0.0, 1e-30]))

# ---- RReLU -------------------------------------------------------------------------
# eval: leaky_relu with slope (lower + upper) / 2
case("act_rrelu_eval", layers("RReLU: {lower: 0.1, upper: 0.5, inplace: true}"),
     spec("act_rrelu_eval", 4, 20, vals=SPECIAL))
case("act_rrelu_eval_default", layers("RReLU"), randn("act_rrelu_eval_default", 3, 4, 5))
case("act_rrelu_eval_pos", layers("RReLU: [0.25, 0.25]"), randn("act_rrelu_eval_pos", 7))
# training with lower == upper: every random slope is that value
case("act_rrelu_train_fixed", layers("RReLU: {lower: 0.2, upper: 0.2}"),
     spec("act_rrelu_train_fixed", 4, 12, vals=SPECIAL), train=True)

# ---- GLU -------------------------------------------------------------------------
case("act_glu", layers("GLU"), spec("act_glu", 4, 10, scale=3.0, vals=[100.0, -100.0, 0.0, NAN, 1.0,
                                                                      1.0, 1.0, 1.0, 200.0, -200.0]))
case("act_glu_dim1", layers("GLU: 1"), randn("act_glu_dim1", 2, 6, 5))
case("act_glu_dim0", layers("GLU: {dim: 0}"), randn("act_glu_dim0", 4, 3))
case("act_glu_neg", layers("GLU: -2"), randn("act_glu_neg", 2, 3, 8, 3))
case("act_glu_1d", layers("GLU"), randn("act_glu_1d", 8, scale=4.0))
case("act_glu_linear", layers("Linear: [5, 16]", "GLU", "Linear: [8, 3]"), randn("act_glu_linear", 6, 5),
     args="--batch-size 4")

# ---- Softmin, Softmax2d ----------------------------------------------------------------
case("act_softmin", layers("Softmin: {dim: 1}"), randn("act_softmin", 4, 8))
case("act_softmin_dim0", layers("Softmin: [0]"), randn("act_softmin_dim0", 4, 8))
case("act_softmin_3d", layers("Softmin: -1"), randn("act_softmin_3d", 2, 3, 5))
case("act_softmin_large", layers("Softmin: {dim: 1}"), randn("act_softmin_large", 4, 8, scale=1000.0))
case("act_softmin_1d", layers("Softmin: 0"), randn("act_softmin_1d", 6))
case("act_softmin_batch_size", layers("Linear: [6, 6]", "Softmin: 1"), randn("act_softmin_batch_size", 7, 6),
     args="--batch-size 3 --threads 2")
case("act_softmax2d", layers("Softmax2d"), randn("act_softmax2d", 2, 5, 3, 4))
case("act_softmax2d_unbatched", layers("Softmax2d"), randn("act_softmax2d_unbatched", 5, 3, 4))
case("act_softmax2d_large", layers("Softmax2d:"), randn("act_softmax2d_large", 2, 4, 2, 3, scale=500.0))
case("act_softmax2d_conv", layers("Conv2d: [3, 6, 3]", "Softmax2d"), randn("act_softmax2d_conv", 3, 3, 6, 6),
     args="--batch-size 2")

# ---- GELU (vectorised erf) --------------------------------------------------------------
# a dense sweep over where erf(x / sqrt(2)) moves, plus the special values
case("act_gelu_sweep", layers("GELU"),
     np.concatenate([sweep(-10, 10, 8001), np.array(SPECIAL, np.float32)]))
case("act_gelu_tanh_sweep", layers("GELU: {approximate: tanh}"),
     np.concatenate([sweep(-10, 10, 4001), np.array(SPECIAL, np.float32)]))
# fused into Linear's output, several threads, chunks
case("act_gelu_linear", layers("Linear: [16, 64]", "GELU", "Linear: [64, 8]"), randn("act_gelu_linear", 9, 16),
     scale="fan_in", args="--threads 2 --batch-size 4")

# ---- fused into producers, and a MobileNetV3-style block ---------------------------------------
case("act_linear_mish", layers("Linear: [12, 40]", "Mish", "Linear: [40, 30]", "SELU", "Linear: [30, 20]",
                               "CELU: 0.7", "Linear: [20, 6]", "LogSigmoid"),
     randn("act_linear_mish", 9, 12, scale=2.0), args="--threads 2")
case("act_conv_hardswish", layers(
    "Conv2d: [3, 16, 3, 2, 1]",
    "BatchNorm2d: 16",
    "Hardswish",
    "Conv2d: {in_channels: 16, out_channels: 16, kernel_size: 3, padding: 1, groups: 16}",
    "BatchNorm2d: 16",
    "Hardswish: true",
    "Conv2d: [16, 24, 1]",
    "Hardsigmoid",
    "Flatten: [2]",
    "Tanhshrink",
    "Softsign"),
    randn("act_conv_hardswish", 4, 3, 16, 16), scale="fan_in", args="--threads 2 --batch-size 3")
case("act_conv1d_chain", layers("Conv1d: [4, 8, 3]", "Softshrink: 0.1", "Conv1d: [8, 8, 1]", "Hardshrink: 0.05",
                                "Conv1d: [8, 4, 1]", "Threshold: [0.0, -1.0]"),
     randn("act_conv1d_chain", 3, 4, 11), scale="fan_in")
