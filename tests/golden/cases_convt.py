# cases_convt.py - golden cases for transposed and 3-D convolutions and the
# lazy convolutions: ConvTranspose1d/2d/3d, Conv3d, LazyConv1d/2d/3d,
# LazyConvTranspose1d/2d/3d.  Run in gen.py's namespace (case, layers, L,
# randn, ...).
own("convt_")

# ---- ConvTranspose2d -----------------------------------------------------------
case("convt_2d", layers("ConvTranspose2d: [4, 6, 3]"), randn("convt_2d", 2, 4, 5, 5))
# every argument non-default: kernel (3, 2), stride (2, 3), padding (1, 2),
# output_padding (1, 2), groups 2, no bias, dilation (2, 1)
case("convt_2d_all_args", layers(
    "ConvTranspose2d: {in_channels: 4, out_channels: 6, kernel_size: [3, 2], stride: [2, 3], padding: [1, 2], "
    "output_padding: [1, 2], groups: 2, bias: false, dilation: [2, 1]}"),
    randn("convt_2d_all_args", 3, 4, 5, 6))
# the same positionally, in PyTorch's constructor order; output_padding below
# the dilation rather than the stride
case("convt_2d_positional", layers("ConvTranspose2d: [6, 4, [2, 3], 1, [0, 1], [1, 0], 2, true, [3, 1]]"),
     randn("convt_2d_positional", 2, 6, 4, 5))
case("convt_2d_unbatched", layers("ConvTranspose2d: {in_channels: 3, out_channels: 5, kernel_size: 4, stride: 2, "
                                  "padding: 1}", "Tanh"),
     randn("convt_2d_unbatched", 3, 6, 7))
# DCGAN's two layer kinds: 4x4 stride 1 from 1x1, 4x4 stride 2 padding 1;
# out_channels 40 and 36: a full 32-channel block and a partial one
case("convt_2d_dcgan", layers(
    "ConvTranspose2d: {in_channels: 16, out_channels: 40, kernel_size: 4, stride: 1, padding: 0, bias: false}",
    "ReLU",
    "ConvTranspose2d: {in_channels: 40, out_channels: 36, kernel_size: 4, stride: 2, padding: 1, bias: false}",
    "ReLU",
    "ConvTranspose2d: {in_channels: 36, out_channels: 3, kernel_size: 4, stride: 2, padding: 1, bias: false}",
    "Tanh"),
    randn("convt_2d_dcgan", 5, 16, 1, 1), scale="fan_in")
# an input of 400 pixels: GEMM calls over part of one sample's rows
case("convt_2d_large", layers("ConvTranspose2d: {in_channels: 8, out_channels: 40, kernel_size: 3, stride: 2}",
                              "Sigmoid"),
     randn("convt_2d_large", 3, 8, 20, 20))
# groups = in_channels = out_channels (depthwise) and a kernel larger than the stride
case("convt_2d_depthwise", layers("ConvTranspose2d: {in_channels: 6, out_channels: 6, kernel_size: 5, stride: 3, "
                                  "padding: 2, output_padding: 2, groups: 6}"),
     randn("convt_2d_depthwise", 2, 6, 4, 3))
# the same bits in chunks of 3 samples as in one batch of 7
case("convt_2d_batch_size", layers("ConvTranspose2d: [5, 34, 3, 2, 1, 1]", "ReLU"),
     randn("convt_2d_batch_size", 7, 5, 4, 4), args="--batch-size 3")
case("convt_2d_empty_batch", layers("ConvTranspose2d: [4, 6, 3]", "ReLU"), np.zeros((0, 4, 5, 5), np.float32))
# default initialisation is drawn from seqrun's own generator; init: makes it
# deterministic, and the case runs without a weights file
case("convt_2d_init", L(
    "init:",
    "  ConvTranspose2d: {weight: {constant: {val: 0.125}}, bias: {constant: {val: -0.5}}}") +
    layers("ConvTranspose2d: [3, 4, 3, 2]"),
    randn("convt_2d_init", 2, 3, 4, 4), weights=False)

# ---- BatchNorm folded into a transposed convolution (eval), and --train --------
CTBN = layers("ConvTranspose2d: {in_channels: 6, out_channels: 8, kernel_size: 4, stride: 2, padding: 1, "
              "groups: 2}", "BatchNorm2d: 8", "ReLU")
case("convt_bn_relu", CTBN, randn("convt_bn_relu", 3, 6, 4, 4))
case("convt_bn_relu_nobias", layers(
    "ConvTranspose2d: {in_channels: 8, out_channels: 40, kernel_size: 4, stride: 2, padding: 1, bias: false}",
    "BatchNorm2d: 40", "ReLU"), randn("convt_bn_relu_nobias", 2, 8, 3, 3))
case("convt_bn_relu_train", CTBN, randn("convt_bn_relu_train", 4, 6, 4, 4), train=True, state=True)
case("convt_1d_bn", layers("ConvTranspose1d: [4, 6, 3, 2]", "BatchNorm1d: 6", "LeakyReLU: 0.2"),
     randn("convt_1d_bn", 3, 4, 9))

# ---- ConvTranspose1d, ConvTranspose3d ---------------------------------------------
case("convt_1d", layers("ConvTranspose1d: [3, 5, 4]"), randn("convt_1d", 2, 3, 11))
case("convt_1d_all_args", layers(
    "ConvTranspose1d: {in_channels: 4, out_channels: 6, kernel_size: 3, stride: 3, padding: 2, output_padding: 1, "
    "groups: 2, bias: false, dilation: 2}"), randn("convt_1d_all_args", 3, 4, 8))
case("convt_1d_unbatched", layers("ConvTranspose1d: [4, 2, 5, 2, 1, 1]"), randn("convt_1d_unbatched", 4, 7))
case("convt_3d", layers("ConvTranspose3d: [3, 4, 2, 2]"), randn("convt_3d", 2, 3, 3, 4, 2))
case("convt_3d_all_args", layers(
    "ConvTranspose3d: {in_channels: 4, out_channels: 6, kernel_size: [3, 2, 3], stride: [2, 1, 3], "
    "padding: [1, 0, 2], output_padding: [1, 0, 2], groups: 2, bias: false, dilation: [1, 2, 1]}"),
    randn("convt_3d_all_args", 2, 4, 3, 4, 3))
case("convt_3d_unbatched", layers("ConvTranspose3d: {in_channels: 2, out_channels: 3, kernel_size: 3, stride: 2, "
                                  "padding: 1, output_padding: 1}", "ReLU"),
     randn("convt_3d_unbatched", 2, 3, 2, 4))
case("convt_3d_bn", layers("ConvTranspose3d: [4, 34, 2, 2]", "BatchNorm3d: 34", "ReLU"),
     randn("convt_3d_bn", 2, 4, 2, 3, 2))

# ---- Conv3d --------------------------------------------------------------------
case("convt_conv3d", layers("Conv3d: [3, 5, 3]"), randn("convt_conv3d", 2, 3, 5, 6, 4))
case("convt_conv3d_all_args", layers(
    "Conv3d: {in_channels: 4, out_channels: 6, kernel_size: [3, 2, 3], stride: [2, 1, 2], padding: [1, 2, 0], "
    "dilation: [1, 2, 1], groups: 2, bias: false, padding_mode: reflect}"),
    randn("convt_conv3d_all_args", 2, 4, 5, 6, 7))
case("convt_conv3d_positional", layers("Conv3d: [2, 4, [1, 3, 3], 1, same, 2, 2, true, replicate]"),
     randn("convt_conv3d_positional", 2, 2, 3, 7, 6))
case("convt_conv3d_circular", layers("Conv3d: {in_channels: 2, out_channels: 3, kernel_size: 3, padding: [1, 2, 3], "
                                     "padding_mode: circular}"),
     randn("convt_conv3d_circular", 2, 2, 3, 4, 5))
case("convt_conv3d_unbatched", layers("Conv3d: {in_channels: 3, out_channels: 4, kernel_size: 2, stride: 2}", "ELU"),
     randn("convt_conv3d_unbatched", 3, 4, 5, 6))
case("convt_conv3d_bn", layers("Conv3d: [3, 40, 3, 1, 1]", "BatchNorm3d: 40", "ReLU"),
     randn("convt_conv3d_bn", 2, 3, 3, 4, 5))
case("convt_conv3d_valid", layers("Conv3d: {in_channels: 2, out_channels: 3, kernel_size: 2, padding: valid}"),
     randn("convt_conv3d_valid", 1, 2, 3, 3, 3))

# ---- lazy convolutions -----------------------------------------------------------
case("convt_lazyconv2d", layers("LazyConv2d: [8, 3]", "ReLU", "LazyConv2d: {out_channels: 4, kernel_size: 3, "
                                "stride: 2, padding: 1, groups: 2, bias: false, padding_mode: reflect}"),
     randn("convt_lazyconv2d", 2, 3, 9, 9))
case("convt_lazyconv1d", layers("LazyConv1d: {out_channels: 6, kernel_size: 3, padding: same, dilation: 2}",
                                "BatchNorm1d: 6"),
     randn("convt_lazyconv1d", 3, 4, 10))
case("convt_lazyconv1d_unbatched", layers("LazyConv1d: [5, 2, 2]"), randn("convt_lazyconv1d_unbatched", 3, 9))
case("convt_lazyconv3d", layers("LazyConv3d: [4, [1, 2, 2], 1, 1]", "Tanh"), randn("convt_lazyconv3d", 2, 2, 3, 4, 4))
case("convt_lazyconvt2d", layers("LazyConvTranspose2d: {out_channels: 6, kernel_size: 4, stride: 2, padding: 1, "
                                 "output_padding: 1, groups: 3, dilation: 1}", "BatchNorm2d: 6", "ReLU"),
     randn("convt_lazyconvt2d", 2, 3, 4, 5))
case("convt_lazyconvt1d", layers("LazyConvTranspose1d: [3, 3, 2, 1, 1, 1, false, 2]"),
     randn("convt_lazyconvt1d", 2, 4, 6))
case("convt_lazyconvt3d", layers("LazyConvTranspose3d: [3, 2, 2]"), randn("convt_lazyconvt3d", 2, 2, 2, 3))
# a DCGAN generator from a flat latent vector: Unflatten, then lazy layers
case("convt_lazy_dcgan", layers("Unflatten: [1, [12, 1, 1]]", "LazyConvTranspose2d: [24, 4, 1, 0]",
                                "BatchNorm2d: 24", "ReLU", "LazyConvTranspose2d: [3, 4, 2, 1]", "Tanh"),
     randn("convt_lazy_dcgan", 4, 12), scale="fan_in")
