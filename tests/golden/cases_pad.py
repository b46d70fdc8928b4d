# Golden cases for pad.c: ZeroPad2d, ConstantPad1d/2d/3d,
# ReflectionPad1d/2d/3d, ReplicationPad1d/2d/3d.  Padding is (left, right,
# top, bottom, front, back), asymmetric below; negative padding crops.
# Run in gen.py's namespace (see the end of gen.py).
own("pad_")


def pad(name, layer, *shape, **kw):
    case(name, layers(layer), randn(name, *shape), **kw)


# ---- ZeroPad2d, ConstantPad ------------------------------------------------------------
pad("pad_zero2d", "ZeroPad2d: 2", 2, 3, 4, 5)
pad("pad_zero2d_asym", "ZeroPad2d: [[1, 3, 0, 2]]", 2, 3, 4, 5)
pad("pad_zero2d_negative", "ZeroPad2d: {padding: [-1, 2, 3, -2]}", 2, 2, 5, 6)
pad("pad_zero2d_unbatched", "ZeroPad2d: [[2, 0, 1, 1]]", 3, 4, 5)
# any leading dims: a 2-D input is one (H, W) plane, a 5-D one many
pad("pad_zero2d_plane", "ZeroPad2d: [[1, 2, 3, 4]]", 4, 5)
pad("pad_zero2d_5d", "ZeroPad2d: [[1, 0, 0, 1]]", 2, 2, 3, 4, 5)
pad("pad_constant1d", "ConstantPad1d: {padding: [2, 3], value: 1.5}", 2, 3, 7)
pad("pad_constant1d_positional", "ConstantPad1d: [3, -2.5]", 2, 3, 7)
pad("pad_constant1d_4d", "ConstantPad1d: [[1, 2], 0]", 2, 3, 4, 5)
pad("pad_constant1d_1d", "ConstantPad1d: {padding: 2, value: 7}", 6)
pad("pad_constant2d", "ConstantPad2d: {padding: [1, 0, 2, 3], value: -0.5}", 2, 3, 4, 5)
pad("pad_constant2d_negative", "ConstantPad2d: {padding: [-2, 1, -1, -3], value: 2}", 2, 2, 6, 7)
pad("pad_constant3d", "ConstantPad3d: {padding: [1, 2, 0, 1, 2, 0], value: 3.25}", 2, 2, 3, 4, 5)
pad("pad_constant3d_unbatched", "ConstantPad3d: {padding: 1, value: -1}", 2, 3, 4, 5)
pad("pad_constant3d_negative", "ConstantPad3d: {padding: [-1, 1, 2, -2, -1, 1], value: 0.5}", 2, 2, 4, 5, 6)
# every pad non-positive: a crop, down to an empty dimension
pad("pad_constant1d_crop_empty", "ConstantPad1d: {padding: [-2, -3], value: 1}", 2, 3, 5)

# ---- ReflectionPad -----------------------------------------------------------------------
pad("pad_reflect1d", "ReflectionPad1d: 2", 2, 3, 6)
pad("pad_reflect1d_asym", "ReflectionPad1d: [[4, 1]]", 2, 3, 5)
pad("pad_reflect1d_unbatched", "ReflectionPad1d: [[1, 3]]", 3, 7)
pad("pad_reflect1d_negative", "ReflectionPad1d: [[-2, 3]]", 2, 2, 6)
pad("pad_reflect2d", "ReflectionPad2d: 1", 2, 3, 4, 5)
# each pad the largest reflection allows: size - 1
pad("pad_reflect2d_asym_max", "ReflectionPad2d: [[4, 0, 1, 3]]", 2, 2, 4, 5)
pad("pad_reflect2d_unbatched", "ReflectionPad2d: [[2, 1, 0, 3]]", 3, 5, 6)
pad("pad_reflect2d_negative", "ReflectionPad2d: {padding: [-1, 3, 2, -2]}", 2, 2, 5, 6)
pad("pad_reflect3d", "ReflectionPad3d: [[1, 2, 2, 1, 1, 0]]", 2, 2, 3, 4, 5)
pad("pad_reflect3d_unbatched", "ReflectionPad3d: 1", 2, 3, 4, 5)
pad("pad_reflect3d_negative", "ReflectionPad3d: [[-1, 2, 0, -1, 2, 1]]", 1, 2, 3, 4, 5)

# ---- ReplicationPad ----------------------------------------------------------------------
pad("pad_replicate1d", "ReplicationPad1d: 3", 2, 3, 4)
# replication pads by any amount, beyond the input's size
pad("pad_replicate1d_large", "ReplicationPad1d: [[7, 2]]", 2, 3, 3)
pad("pad_replicate1d_unbatched", "ReplicationPad1d: [[0, 5]]", 3, 4)
pad("pad_replicate1d_negative", "ReplicationPad1d: [[-3, 4]]", 2, 2, 5)
pad("pad_replicate2d", "ReplicationPad2d: [[1, 2, 3, 0]]", 2, 3, 4, 5)
pad("pad_replicate2d_unbatched", "ReplicationPad2d: 4", 2, 3, 3)
pad("pad_replicate2d_negative", "ReplicationPad2d: [[2, -1, -2, 3]]", 2, 2, 5, 6)
pad("pad_replicate3d", "ReplicationPad3d: [[1, 0, 2, 1, 0, 3]]", 2, 2, 3, 4, 5)
pad("pad_replicate3d_unbatched", "ReplicationPad3d: [[3, 3, 0, 1, 2, 0]]", 2, 2, 3, 4)
pad("pad_replicate3d_negative", "ReplicationPad3d: [[-1, 1, 1, -2, -1, 2]]", 1, 2, 4, 5, 6)

# ---- batches, threads, models ------------------------------------------------------------
case("pad_empty_batch", layers("ReflectionPad2d: 1", "ZeroPad2d: 2"), np.zeros((0, 2, 3, 4), np.float32))
# one layer alone runs outside the micro-batches, its planes split over
# threads (from 2^16 output floats)
case("pad_threads", layers("ReflectionPad2d: [[3, 2, 1, 4]]"), randn("pad_threads", 4, 8, 42, 42), args="--threads 2")
case("pad_threads_micro", layers("ReflectionPad2d: [[3, 2, 1, 4]]", "ReplicationPad2d: 2",
                                 "ConstantPad2d: [[1, 1, -2, 0], 0.5]"),
     randn("pad_threads_micro", 9, 4, 10, 12), args="--threads 2")
case("pad_batch_size", layers("ReplicationPad1d: [[2, 1]]", "ReflectionPad1d: 3"), randn("pad_batch_size", 5, 2, 6),
     args="--batch-size 2")
_x = randn("pad_nan", 1, 2, 3, 4)
_x[0, 0, 0, 1] = np.nan
_x[0, 1, 2, 3] = np.inf
case("pad_nan", layers("ReflectionPad2d: 2", "ConstantPad2d: [[1, 0, 0, 1], -0.0]"), _x)
# reflection padding before an unpadded convolution (what padding_mode='reflect' does)
case("pad_reflect_conv", layers(
    "ReflectionPad2d: 1",
    "Conv2d: {in_channels: 3, out_channels: 8, kernel_size: 3}",
    "ReLU",
    "ZeroPad2d: [[0, 1, 0, 1]]",
    "MaxPool2d: 2",
    "ReplicationPad2d: [[2, 0, 1, 1]]",
    "Conv2d: {in_channels: 8, out_channels: 4, kernel_size: 3}"),
    randn("pad_reflect_conv", 3, 3, 9, 8), scale="fan_in", args="--batch-size 2")

# ---- a tuple's length, not the class, says what is padded -------------------------------
# torch 1.13's _ntuple hands any sequence to F.pad unchanged: ZeroPad2d((1, 2))
# pads only the width, ConstantPad1d((1, 2, 3, 4)) height and width.
pad("pad_len_zero2d_pair", "ZeroPad2d: [[1, 2]]", 2, 3, 4, 5)
pad("pad_len_zero2d_six", "ZeroPad2d: [[1, 0, 2, 1, 1, 2]]", 2, 3, 4, 5)
pad("pad_len_constant1d_four", "ConstantPad1d: [[1, 2, 3, 0], 0.5]", 2, 3, 4)
pad("pad_len_constant3d_pair", "ConstantPad3d: {padding: [2, -1], value: 1.5}", 2, 3, 5)
pad("pad_len_reflect1d_four", "ReflectionPad1d: [[1, 2, 2, 0]]", 2, 3, 4, 5)
pad("pad_len_reflect2d_pair", "ReflectionPad2d: [[2, 1]]", 3, 4, 5)
pad("pad_len_replicate3d_four", "ReplicationPad3d: [[0, 2, 3, 1]]", 2, 3, 4, 5)
pad("pad_len_replicate2d_six", "ReplicationPad2d: [[1, 1, 0, 2, 2, 1]]", 2, 2, 3, 4, 5)
