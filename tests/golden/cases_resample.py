# Golden cases for resample.c: Upsample (every mode), UpsamplingNearest2d,
# UpsamplingBilinear2d, PixelShuffle, PixelUnshuffle, ChannelShuffle.
# Run in gen.py's namespace (see the end of gen.py).
#
# Nearest resampling is a pure copy whose source index ATen computes in
# float for float32 data (and in double, rounding differently, for float64),
# so those cases take torch's float32 output as the reference (ref32): the
# non-integer scale factors (1.7, 0.6, 1.107, 2.0001) and sizes below are
# where that index rule shows.
own("ups_")


def up(name, args, *shape, **kw):
    case(name, layers("Upsample: {%s}" % args), randn(name, *shape), **kw)


# ---- nearest ----------------------------------------------------------------------
up("ups_nearest_x2", "scale_factor: 2", 2, 3, 5, 7, ref32=True)
up("ups_nearest_x3_int", "scale_factor: 3, mode: nearest", 2, 2, 4, 3, ref32=True)
up("ups_nearest_size", "size: [9, 11]", 2, 3, 4, 5, ref32=True)
up("ups_nearest_size_down", "size: [3, 4]", 2, 2, 9, 10, ref32=True)
up("ups_nearest_size_int", "size: 6", 2, 2, 4, 5, ref32=True)
# scale 1/1.7 in float: floor(dst * 0.5882353) differs from dst * in / out
up("ups_nearest_1d_sf17", "scale_factor: 1.7", 2, 3, 14, ref32=True)
up("ups_nearest_2d_sf06", "scale_factor: 0.6", 2, 3, 13, 17, ref32=True)
up("ups_nearest_2d_tuple", "scale_factor: [1.7, 0.6]", 2, 2, 11, 16, ref32=True)
# recompute_scale_factor=True: the output size from the factor, the scale from the sizes
up("ups_nearest_recompute", "scale_factor: 1.7, recompute_scale_factor: true", 2, 2, 14, 9, ref32=True)
up("ups_nearest_recompute_false", "scale_factor: [1.7, 2.5], recompute_scale_factor: false", 1, 2, 14, 9,
   ref32=True)
# out == 2 * in with a scale other than 2: with one channel ATen's channels-last
# kernel halves the index (0 0 1 1 ..); with two, floor(dst / 2.0001) (0 0 0 1 ..)
up("ups_nearest_1ch_near2", "scale_factor: 2.0001", 3, 1, 6, 8, ref32=True)
up("ups_nearest_2ch_near2", "scale_factor: 2.0001", 3, 2, 6, 8, ref32=True)
up("ups_nearest_1ch_same", "scale_factor: [1.107, 1.5]", 2, 1, 4, 6, ref32=True)
up("ups_nearest_2ch_same", "scale_factor: [1.107, 1.5]", 2, 2, 4, 6, ref32=True)
up("ups_nearest_3d", "scale_factor: [2, 1.5, 0.6]", 2, 2, 3, 4, 10, ref32=True)
up("ups_nearest_3d_size", "size: [4, 3, 5], mode: nearest", 1, 3, 2, 5, 3, ref32=True)
# wide rows: the vectorised x2 duplication and its odd tail (size 2 * 37 - 1)
up("ups_nearest_wide", "scale_factor: 2", 2, 2, 3, 37, ref32=True)
up("ups_nearest_odd_tail", "size: [6, 73]", 2, 2, 3, 37, ref32=True)
_x = randn("ups_nearest_nan", 1, 2, 3, 3)
_x[0, 0, 1, 1] = np.nan
_x[0, 1, 2, 0] = -np.inf
case("ups_nearest_nan", layers("Upsample: {scale_factor: 2}"), _x, ref32=True)

# ---- nearest-exact ------------------------------------------------------------------
up("ups_exact_1d", "scale_factor: 1.7, mode: nearest-exact", 2, 3, 14, ref32=True)
up("ups_exact_2d", "scale_factor: [0.6, 2.5], mode: nearest-exact", 2, 2, 13, 7, ref32=True)
up("ups_exact_3d_size", "size: [3, 5, 7], mode: nearest-exact", 1, 2, 4, 4, 4, ref32=True)

# ---- linear, bilinear, trilinear ---------------------------------------------------
up("ups_linear", "scale_factor: 2, mode: linear", 2, 3, 9)
up("ups_linear_ac", "scale_factor: 2, mode: linear, align_corners: true", 2, 3, 9)
up("ups_linear_sf17", "scale_factor: 1.7, mode: linear", 2, 3, 14)
up("ups_linear_down", "scale_factor: 0.6, mode: linear, align_corners: false", 2, 2, 17)
up("ups_linear_size1", "size: 1, mode: linear", 2, 2, 6)
up("ups_linear_size1_ac", "size: 1, mode: linear, align_corners: true", 2, 2, 6)
up("ups_bilinear", "scale_factor: 2, mode: bilinear", 2, 3, 5, 6)
up("ups_bilinear_ac", "scale_factor: 2, mode: bilinear, align_corners: true", 2, 3, 5, 6)
up("ups_bilinear_sf", "scale_factor: [1.7, 0.6], mode: bilinear", 2, 2, 9, 13)
up("ups_bilinear_sf_ac", "scale_factor: [1.7, 0.6], mode: bilinear, align_corners: true", 2, 2, 9, 13)
up("ups_bilinear_recompute", "scale_factor: 1.7, mode: bilinear, recompute_scale_factor: true", 2, 2, 9, 13)
up("ups_bilinear_size", "size: [7, 20], mode: bilinear", 2, 2, 5, 6)
up("ups_bilinear_size_down_ac", "size: [3, 4], mode: bilinear, align_corners: true", 2, 2, 10, 11)
# out == in with scale 1/1.1: the linear modes copy (ATen's out == in rule)
up("ups_bilinear_same_size", "scale_factor: 1.1, mode: bilinear", 2, 2, 5, 9)
up("ups_trilinear", "scale_factor: 2, mode: trilinear", 2, 2, 3, 4, 5)
up("ups_trilinear_ac", "scale_factor: [1.5, 2, 0.6], mode: trilinear, align_corners: true", 2, 2, 4, 3, 10)
up("ups_trilinear_size", "size: [5, 2, 7], mode: trilinear", 1, 3, 3, 4, 5)

# ---- bicubic ---------------------------------------------------------------------------
up("ups_bicubic", "scale_factor: 2, mode: bicubic", 2, 3, 5, 6)
up("ups_bicubic_ac", "scale_factor: 2, mode: bicubic, align_corners: true", 2, 3, 5, 6)
up("ups_bicubic_sf", "scale_factor: [1.7, 0.6], mode: bicubic", 2, 2, 9, 13)
up("ups_bicubic_down_ac", "size: [4, 3], mode: bicubic, align_corners: true", 2, 2, 11, 9)
# the taps past the border are clamped (replicated)
up("ups_bicubic_tiny", "size: [5, 7], mode: bicubic", 2, 2, 2, 3)

# ---- area ------------------------------------------------------------------------------
up("ups_area_1d", "scale_factor: 0.6, mode: area", 2, 3, 13)
up("ups_area_2d", "size: [3, 5], mode: area", 2, 2, 7, 11)
up("ups_area_3d_up", "scale_factor: 1.5, mode: area", 1, 2, 3, 4, 5)

# ---- UpsamplingNearest2d, UpsamplingBilinear2d, argument forms -------------------------
case("ups_upsamplingnearest2d", layers("UpsamplingNearest2d: {scale_factor: 2}"),
     randn("ups_upsamplingnearest2d", 2, 3, 4, 5), ref32=True)
case("ups_upsamplingnearest2d_size", layers("UpsamplingNearest2d: [[7, 9]]"),
     randn("ups_upsamplingnearest2d_size", 2, 3, 4, 5), ref32=True)
case("ups_upsamplingbilinear2d", layers("UpsamplingBilinear2d: {scale_factor: 2}"),
     randn("ups_upsamplingbilinear2d", 2, 3, 4, 5))
case("ups_upsamplingbilinear2d_size", layers("UpsamplingBilinear2d: {size: [3, 8]}"),
     randn("ups_upsamplingbilinear2d_size", 2, 3, 6, 5))
# positional, in PyTorch's order: size, scale_factor, mode, align_corners
case("ups_positional", layers("Upsample: [null, 1.5, bicubic, true]"), randn("ups_positional", 2, 2, 4, 6))
case("ups_scalar_arg", layers("Upsample: 4"), randn("ups_scalar_arg", 2, 2, 3, 5), ref32=True)

# ---- batches, threads, models --------------------------------------------------------
case("ups_empty_batch", layers("Upsample: {scale_factor: 2, mode: bilinear}"), np.zeros((0, 2, 3, 4), np.float32))
# one layer alone runs outside the micro-batches, its planes split over
# threads (from 2^16 output floats)
case("ups_threads", layers("Upsample: {scale_factor: 2, mode: bilinear}"), randn("ups_threads", 2, 8, 32, 32),
     args="--threads 2")
case("ups_threads_nearest", layers("Upsample: {scale_factor: [2, 0.5], mode: nearest}"),
     randn("ups_threads_nearest", 4, 8, 32, 64), args="--threads 2", ref32=True)
case("ups_threads_micro", layers("Upsample: {scale_factor: 2, mode: bilinear}", "Upsample: {scale_factor: 0.5}"),
     randn("ups_threads_micro", 9, 4, 10, 12), args="--threads 2")
case("ups_batch_size", layers("Upsample: {size: [9, 7], mode: bicubic}"), randn("ups_batch_size", 5, 2, 6, 5),
     args="--batch-size 2")
# the autoencoder's decoder: convolution, nearest x2, convolution
case("ups_decoder", L(
    "input: [N, 8, 7, 7]",
    "layers:",
    "  - Conv2d: {in_channels: 8, out_channels: 16, kernel_size: 3, padding: 1}",
    "  - ReLU",
    "  - Upsample: {scale_factor: 2.0, mode: nearest}",
    "  - Conv2d: {in_channels: 16, out_channels: 8, kernel_size: 3, padding: 1}",
    "  - ReLU",
    "  - Upsample: {scale_factor: 2, mode: bilinear}",
    "  - Conv2d: {in_channels: 8, out_channels: 1, kernel_size: 3, padding: 1}",
    "  - Sigmoid"),
    randn("ups_decoder", 9, 8, 7, 7), scale="fan_in", args="--batch-size 4 --threads 2")

# ---- PixelShuffle, PixelUnshuffle, ChannelShuffle --------------------------------------
case("ups_pixelshuffle", layers("PixelShuffle: 2"), randn("ups_pixelshuffle", 2, 8, 3, 5))
case("ups_pixelshuffle_r3", layers("PixelShuffle: {upscale_factor: 3}"), randn("ups_pixelshuffle_r3", 2, 18, 4, 3))
case("ups_pixelshuffle_unbatched", layers("PixelShuffle: 2"), randn("ups_pixelshuffle_unbatched", 12, 3, 4))
case("ups_pixelshuffle_5d", layers("PixelShuffle: 2"), randn("ups_pixelshuffle_5d", 2, 3, 4, 2, 3))
case("ups_pixelshuffle_r1", layers("PixelShuffle: 1", "Tanh"), randn("ups_pixelshuffle_r1", 2, 3, 2, 2))
case("ups_pixelunshuffle", layers("PixelUnshuffle: 2"), randn("ups_pixelunshuffle", 2, 2, 6, 8))
case("ups_pixelunshuffle_r3", layers("PixelUnshuffle: {downscale_factor: 3}"),
     randn("ups_pixelunshuffle_r3", 2, 2, 9, 6))
case("ups_pixelunshuffle_unbatched", layers("PixelUnshuffle: 2"), randn("ups_pixelunshuffle_unbatched", 3, 4, 6))
case("ups_pixel_roundtrip", layers(
    "Conv2d: {in_channels: 3, out_channels: 12, kernel_size: 3, padding: 1}",
    "PixelShuffle: 2",
    "ReLU",
    "PixelUnshuffle: 2",
    "Conv2d: {in_channels: 12, out_channels: 4, kernel_size: 1}"),
    randn("ups_pixel_roundtrip", 3, 3, 5, 6), scale="fan_in", args="--batch-size 2")
case("ups_channelshuffle", layers("ChannelShuffle: 3"), randn("ups_channelshuffle", 2, 6, 3, 4))
case("ups_channelshuffle_3d", layers("ChannelShuffle: {groups: 2}"), randn("ups_channelshuffle_3d", 2, 8, 5))
case("ups_channelshuffle_5d", layers("ChannelShuffle: 4"), randn("ups_channelshuffle_5d", 2, 8, 2, 3, 2))
case("ups_channelshuffle_conv", layers(
    "Conv2d: {in_channels: 4, out_channels: 8, kernel_size: 1, groups: 2}",
    "ChannelShuffle: 2",
    "Conv2d: {in_channels: 8, out_channels: 8, kernel_size: 3, padding: 1, groups: 2}"),
    randn("ups_channelshuffle_conv", 2, 4, 5, 5), scale="fan_in")
