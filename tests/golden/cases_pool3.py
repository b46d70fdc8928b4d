# Golden cases for pool3d.c, lppool.c and fold.c: MaxPool3d, AvgPool3d,
# AdaptiveAvgPool3d, AdaptiveMaxPool3d, LPPool1d, LPPool2d, Fold, Unfold.
# Run in gen.py's namespace (see the end of gen.py).
own("pool3_")

# ---- MaxPool3d ----------------------------------------------------------------
case("pool3_maxpool3d", layers("MaxPool3d: 2"), randn("pool3_maxpool3d", 2, 3, 4, 6, 5))
# every argument non-default: tuple kernel, stride, padding, dilation, ceil_mode
case("pool3_maxpool3d_args", layers(
    "MaxPool3d: {kernel_size: [2, 3, 2], stride: [1, 2, 3], padding: [1, 1, 0], dilation: [1, 1, 2], "
    "return_indices: false, ceil_mode: true}"),
    randn("pool3_maxpool3d_args", 2, 3, 5, 6, 7))
case("pool3_maxpool3d_pos", layers("MaxPool3d: [3, 2, 1, 2, false, true]"),
     randn("pool3_maxpool3d_pos", 1, 2, 7, 8, 9))
# unbatched (C, D, H, W)
case("pool3_maxpool3d_unbatched", layers("MaxPool3d: {kernel_size: [1, 2, 2], stride: [1, 2, 2]}"),
     randn("pool3_maxpool3d_unbatched", 3, 4, 6, 6))
# NaN wins, as ATen's max pooling does; -inf survives
_x = randn("pool3_maxpool3d_nan", 1, 2, 4, 4, 4)
_x[0, 0, 1, 2, 3] = np.nan
_x[0, 1, 0, 0, 0] = -np.inf
case("pool3_maxpool3d_nan", layers("MaxPool3d: {kernel_size: 2, stride: 1}"), _x)
# ceil_mode windows overhanging the right edge, stride > kernel
case("pool3_maxpool3d_ceil_stride", layers("MaxPool3d: {kernel_size: 2, stride: 3, ceil_mode: true}"),
     randn("pool3_maxpool3d_ceil_stride", 2, 2, 7, 8, 6))

# ---- AvgPool3d ------------------------------------------------------------------
case("pool3_avgpool3d", layers("AvgPool3d: 2"), randn("pool3_avgpool3d", 2, 3, 4, 6, 5))
case("pool3_avgpool3d_args", layers(
    "AvgPool3d: {kernel_size: [3, 2, 3], stride: [2, 1, 2], padding: [1, 1, 1], ceil_mode: true, "
    "count_include_pad: false, divisor_override: 5}"),
    randn("pool3_avgpool3d_args", 2, 3, 5, 6, 7))
# count_include_pad (the default) with padding and ceil_mode: the divisor counts
# the padding but not the overhang past it
case("pool3_avgpool3d_cip", layers("AvgPool3d: {kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}"),
     randn("pool3_avgpool3d_cip", 1, 2, 6, 7, 8))
case("pool3_avgpool3d_nocip", layers("AvgPool3d: {kernel_size: 3, stride: 2, padding: 1, ceil_mode: true, "
                                     "count_include_pad: false}"),
     randn("pool3_avgpool3d_nocip", 1, 2, 6, 7, 8))
case("pool3_avgpool3d_pos", layers("AvgPool3d: [[2, 2, 3], [1, 2, 1], 1, false, true, -3]"),
     randn("pool3_avgpool3d_pos", 2, 2, 3, 4, 5))
case("pool3_avgpool3d_unbatched", layers("AvgPool3d: {kernel_size: 2, stride: 1}"),
     randn("pool3_avgpool3d_unbatched", 3, 3, 4, 5))
# wide rows: more output columns than one accumulator block (256)
case("pool3_avgpool3d_wide", layers("AvgPool3d: {kernel_size: [1, 2, 3], stride: [1, 1, 1], padding: [0, 1, 1]}"),
     randn("pool3_avgpool3d_wide", 1, 2, 2, 3, 600))

# ---- adaptive ---------------------------------------------------------------------
case("pool3_adaptiveavg3d", layers("AdaptiveAvgPool3d: [[2, 3, 4]]"),
     randn("pool3_adaptiveavg3d", 2, 3, 5, 7, 9))
case("pool3_adaptiveavg3d_none", layers("AdaptiveAvgPool3d: {output_size: [null, 2, null]}"),
     randn("pool3_adaptiveavg3d_none", 2, 3, 4, 5, 6))
case("pool3_adaptiveavg3d_global", layers("AdaptiveAvgPool3d: 1", "Flatten"),
     randn("pool3_adaptiveavg3d_global", 3, 4, 6, 7, 8, offset=2.0))
# output larger than the input: overlapping windows
case("pool3_adaptiveavg3d_up", layers("AdaptiveAvgPool3d: [[4, 5, 3]]"),
     randn("pool3_adaptiveavg3d_up", 3, 2, 3, 2))
case("pool3_adaptivemax3d", layers("AdaptiveMaxPool3d: {output_size: [2, 3, 2], return_indices: false}"),
     randn("pool3_adaptivemax3d", 2, 3, 5, 7, 4))
case("pool3_adaptivemax3d_none", layers("AdaptiveMaxPool3d: [[3, null, 2]]"),
     randn("pool3_adaptivemax3d_none", 3, 5, 4, 6))
_x = randn("pool3_adaptivemax3d_nan", 1, 2, 4, 4, 4)
_x[0, 1, 3, 3, 3] = np.nan
case("pool3_adaptivemax3d_nan", layers("AdaptiveMaxPool3d: 2"), _x)

# ---- a small 3-D net ------------------------------------------------------------------
case("pool3_net3d", layers("MaxPool3d: [[1, 2, 2]]", "AvgPool3d: {kernel_size: 2, stride: 1, padding: 1}",
                           "AdaptiveMaxPool3d: [[2, 2, null]]", "AdaptiveAvgPool3d: 1", "Flatten",
                           "Linear: [3, 2]"),
     randn("pool3_net3d", 4, 3, 4, 8, 8))

# ---- LPPool1d / LPPool2d ------------------------------------------------------------
# (avg_pool(x^p) * kernel_numel) ^ (1/p); p = 2 on any input
case("pool3_lppool1d", layers("LPPool1d: [2, 3]"), randn("pool3_lppool1d", 2, 3, 10))
# every argument non-default: fractional p on positive input, stride, ceil_mode
# (the overhanging window divides by its taps and multiplies by kernel_size)
case("pool3_lppool1d_args", layers("LPPool1d: {norm_type: 1.5, kernel_size: 3, stride: 2, ceil_mode: true}"),
     np.abs(randn("pool3_lppool1d_args", 2, 3, 10)) + 0.1)
case("pool3_lppool1d_unbatched", layers("LPPool1d: {norm_type: 3, kernel_size: 2, stride: [1]}"),
     np.abs(randn("pool3_lppool1d_unbatched", 4, 9)))
# p = 1: the window sum, signs kept; odd p = 3 on signed input: a negative
# average gives NaN (pow of a negative to 1/3), as PyTorch's
case("pool3_lppool1d_p1", layers("LPPool1d: [1, 4, 3, true]"), randn("pool3_lppool1d_p1", 2, 2, 12))
case("pool3_lppool1d_p3_signed", layers("LPPool1d: [3, 2]"), randn("pool3_lppool1d_p3_signed", 2, 3, 8))
case("pool3_lppool2d", layers("LPPool2d: [2, 2]"), randn("pool3_lppool2d", 2, 3, 6, 8))
case("pool3_lppool2d_args", layers(
    "LPPool2d: {norm_type: 2.5, kernel_size: [3, 2], stride: [2, 3], ceil_mode: true}"),
    np.abs(randn("pool3_lppool2d_args", 2, 3, 8, 9)))
case("pool3_lppool2d_unbatched", layers("LPPool2d: {norm_type: 4, kernel_size: 3, stride: 1}"),
     randn("pool3_lppool2d_unbatched", 3, 5, 6))
# norm_type = inf: x^(1/inf) = x^0 = 1 everywhere, not max pooling
case("pool3_lppool2d_inf", layers("LPPool2d: {norm_type: .inf, kernel_size: 2}"),
     randn("pool3_lppool2d_inf", 2, 2, 4, 4, scale=3.0))
# a negative p: 1/p < 0
case("pool3_lppool2d_negp", layers("LPPool2d: {norm_type: -2, kernel_size: 2}"),
     np.abs(randn("pool3_lppool2d_negp", 1, 2, 4, 6)) + 0.5)

# ---- Unfold / Fold --------------------------------------------------------------------
case("pool3_unfold", layers("Unfold: 2"), randn("pool3_unfold", 2, 3, 4, 5))
# every argument non-default
case("pool3_unfold_args", layers("Unfold: {kernel_size: [2, 3], dilation: [2, 1], padding: [1, 2], stride: [2, 3]}"),
     randn("pool3_unfold_args", 2, 3, 7, 8))
case("pool3_unfold_unbatched", layers("Unfold: [3, 1, 1, 2]"), randn("pool3_unfold_unbatched", 2, 5, 6))
# stride 2 over 6: two blocks per dimension, the last row and column unused
case("pool3_unfold_floor", layers("Unfold: {kernel_size: 3, stride: 2}"), randn("pool3_unfold_floor", 1, 2, 6, 6))
case("pool3_fold", layers("Fold: {output_size: [4, 5], kernel_size: 2}"), randn("pool3_fold", 2, 12, 12))
case("pool3_fold_args", layers(
    "Fold: {output_size: [7, 8], kernel_size: [2, 3], dilation: [2, 1], padding: [1, 2], stride: [2, 3]}"),
    randn("pool3_fold_args", 2, 18, 16))
case("pool3_fold_unbatched", layers("Fold: [[5, 6], 3, 1, 1, 2]"), randn("pool3_fold_unbatched", 18, 9))
# overlapping blocks summed
case("pool3_fold_overlap", layers("Fold: [[6, 6], 3]"), randn("pool3_fold_overlap", 1, 9, 16))
# a round trip: unfold, mix the patches with a Linear, fold back
case("pool3_unfold_fold", layers("Unfold: {kernel_size: 2, stride: 2}", "Linear: [16, 16]",
                                 "Fold: {output_size: [8, 8], kernel_size: 2, stride: 2}"),
     randn("pool3_unfold_fold", 2, 3, 8, 8))
case("pool3_fold_empty_batch", layers("Fold: [[3, 3], 2]"), np.zeros((0, 8, 4), np.float32))
