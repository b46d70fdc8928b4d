# cases_models.py - whole models people write, built in PyTorch from the
# spec with random weights (gen.py's real torch.nn constructors), run by
# seqrun and compared with PyTorch's output (issue 12's "done when"): a DCGAN
# generator and discriminator, convolutional autoencoders with ConvTranspose2d
# and with Upsample, a MobileNetV3-small feature prefix, a CycleGAN-style
# block, an ESPCN-style super-resolution net and a 3-D convolutional net.
# Sizes are cut down to keep the suite fast; the layer kinds and arguments
# are the real models'.  Run in gen.py's namespace.
own("model_")

# DCGAN generator (Radford et al.; PyTorch's dcgan example), ngf 8, nz 16
case("model_dcgan_generator", L(
    "input: [N, 16, 1, 1]",
    "layers:",
    "  - ConvTranspose2d: {in_channels: 16, out_channels: 64, kernel_size: 4, stride: 1, padding: 0, bias: false}",
    "  - BatchNorm2d: 64",
    "  - ReLU: {inplace: true}",
    "  - ConvTranspose2d: {in_channels: 64, out_channels: 32, kernel_size: 4, stride: 2, padding: 1, bias: false}",
    "  - BatchNorm2d: 32",
    "  - ReLU: {inplace: true}",
    "  - ConvTranspose2d: {in_channels: 32, out_channels: 16, kernel_size: 4, stride: 2, padding: 1, bias: false}",
    "  - BatchNorm2d: 16",
    "  - ReLU: {inplace: true}",
    "  - ConvTranspose2d: {in_channels: 16, out_channels: 8, kernel_size: 4, stride: 2, padding: 1, bias: false}",
    "  - BatchNorm2d: 8",
    "  - ReLU: {inplace: true}",
    "  - ConvTranspose2d: {in_channels: 8, out_channels: 3, kernel_size: 4, stride: 2, padding: 1, bias: false}",
    "  - Tanh"),
    randn("model_dcgan_generator", 3, 16, 1, 1), scale="fan_in")

# DCGAN discriminator, ndf 8, on 3x64x64
case("model_dcgan_discriminator", L(
    "input: [N, 3, 64, 64]",
    "layers:",
    "  - Conv2d: {in_channels: 3, out_channels: 8, kernel_size: 4, stride: 2, padding: 1, bias: false}",
    "  - LeakyReLU: [0.2, true]",
    "  - Conv2d: {in_channels: 8, out_channels: 16, kernel_size: 4, stride: 2, padding: 1, bias: false}",
    "  - BatchNorm2d: 16",
    "  - LeakyReLU: [0.2, true]",
    "  - Conv2d: {in_channels: 16, out_channels: 32, kernel_size: 4, stride: 2, padding: 1, bias: false}",
    "  - BatchNorm2d: 32",
    "  - LeakyReLU: [0.2, true]",
    "  - Conv2d: {in_channels: 32, out_channels: 64, kernel_size: 4, stride: 2, padding: 1, bias: false}",
    "  - BatchNorm2d: 64",
    "  - LeakyReLU: [0.2, true]",
    "  - Conv2d: {in_channels: 64, out_channels: 1, kernel_size: 4, stride: 1, padding: 0, bias: false}",
    "  - Sigmoid",
    "  - Flatten"),
    randn("model_dcgan_discriminator", 2, 3, 64, 64), scale="fan_in")

# convolutional autoencoder on MNIST-sized input, decoder by ConvTranspose2d
case("model_autoencoder_convtranspose", L(
    "input: [N, 1, 28, 28]",
    "layers:",
    "  - Conv2d: {in_channels: 1, out_channels: 16, kernel_size: 3, stride: 2, padding: 1}",
    "  - ReLU",
    "  - Conv2d: {in_channels: 16, out_channels: 32, kernel_size: 3, stride: 2, padding: 1}",
    "  - ReLU",
    "  - Conv2d: {in_channels: 32, out_channels: 64, kernel_size: 7}",
    "  - ConvTranspose2d: {in_channels: 64, out_channels: 32, kernel_size: 7}",
    "  - ReLU",
    "  - ConvTranspose2d: {in_channels: 32, out_channels: 16, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}",
    "  - ReLU",
    "  - ConvTranspose2d: {in_channels: 16, out_channels: 1, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}",
    "  - Sigmoid"),
    randn("model_autoencoder_convtranspose", 3, 1, 28, 28), scale="fan_in")

# the same with Upsample + Conv2d in the decoder (nearest, then bilinear)
case("model_autoencoder_upsample", L(
    "input: [N, 1, 28, 28]",
    "layers:",
    "  - Conv2d: [1, 16, 3, 1, 1]",
    "  - ReLU",
    "  - MaxPool2d: 2",
    "  - Conv2d: [16, 8, 3, 1, 1]",
    "  - ReLU",
    "  - MaxPool2d: 2",
    "  - Upsample: {scale_factor: 2, mode: nearest}",
    "  - Conv2d: [8, 16, 3, 1, 1]",
    "  - ReLU",
    "  - Upsample: {scale_factor: 2, mode: bilinear, align_corners: false}",
    "  - Conv2d: [16, 1, 3, 1, 1]",
    "  - Sigmoid"),
    randn("model_autoencoder_upsample", 3, 1, 28, 28), scale="fan_in")

# MobileNetV3-small's first blocks, written as Sequential-only pieces (no SE,
# no residual): conv-BN-Hardswish stem, depthwise/pointwise with ReLU and
# Hardswish, an expansion block
case("model_mobilenetv3_small_prefix", L(
    "input: [N, 3, 32, 32]",
    "layers:",
    "  - Conv2d: {in_channels: 3, out_channels: 16, kernel_size: 3, stride: 2, padding: 1, bias: false}",
    "  - BatchNorm2d: 16",
    "  - Hardswish",
    "  - Conv2d: {in_channels: 16, out_channels: 16, kernel_size: 3, stride: 2, padding: 1, groups: 16, bias: false}",
    "  - BatchNorm2d: 16",
    "  - ReLU: {inplace: true}",
    "  - Conv2d: {in_channels: 16, out_channels: 16, kernel_size: 1, bias: false}",
    "  - BatchNorm2d: 16",
    "  - Conv2d: {in_channels: 16, out_channels: 72, kernel_size: 1, bias: false}",
    "  - BatchNorm2d: 72",
    "  - ReLU",
    "  - Conv2d: {in_channels: 72, out_channels: 72, kernel_size: 3, stride: 2, padding: 1, groups: 72, bias: false}",
    "  - BatchNorm2d: 72",
    "  - ReLU",
    "  - Conv2d: {in_channels: 72, out_channels: 24, kernel_size: 1, bias: false}",
    "  - BatchNorm2d: 24",
    "  - Conv2d: {in_channels: 24, out_channels: 96, kernel_size: 1, bias: false}",
    "  - BatchNorm2d: 96",
    "  - Hardswish",
    "  - Conv2d: {in_channels: 96, out_channels: 96, kernel_size: 5, stride: 2, padding: 2, groups: 96, bias: false}",
    "  - BatchNorm2d: 96",
    "  - Hardswish",
    "  - AdaptiveAvgPool2d: 1",
    "  - Flatten",
    "  - Linear: [96, 32]",
    "  - Hardswish",
    "  - Dropout: 0.2",
    "  - Linear: [32, 10]"),
    randn("model_mobilenetv3_small_prefix", 2, 3, 32, 32), scale="fan_in")

# CycleGAN's generator pieces: reflection padding, 7x7 conv, InstanceNorm,
# downsampling, the two convolutions of a residual block (without the skip),
# ConvTranspose upsampling, Tanh
case("model_cyclegan_block", L(
    "input: [N, 3, 32, 32]",
    "layers:",
    "  - ReflectionPad2d: 3",
    "  - Conv2d: [3, 8, 7]",
    "  - InstanceNorm2d: 8",
    "  - ReLU: {inplace: true}",
    "  - Conv2d: {in_channels: 8, out_channels: 16, kernel_size: 3, stride: 2, padding: 1}",
    "  - InstanceNorm2d: 16",
    "  - ReLU: {inplace: true}",
    "  - ReflectionPad2d: 1",
    "  - Conv2d: [16, 16, 3]",
    "  - InstanceNorm2d: 16",
    "  - ReLU: {inplace: true}",
    "  - Dropout: 0.5",
    "  - ReflectionPad2d: 1",
    "  - Conv2d: [16, 16, 3]",
    "  - InstanceNorm2d: 16",
    "  - ConvTranspose2d: {in_channels: 16, out_channels: 8, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}",
    "  - InstanceNorm2d: 8",
    "  - ReLU: {inplace: true}",
    "  - ReflectionPad2d: 3",
    "  - Conv2d: [8, 3, 7]",
    "  - Tanh"),
    randn("model_cyclegan_block", 2, 3, 32, 32), scale="fan_in")

# ESPCN (Shi et al. 2016): super-resolution by sub-pixel convolution, x3
case("model_espcn", L(
    "input: [N, 1, 17, 17]",
    "layers:",
    "  - Conv2d: [1, 32, 5, 1, 2]",
    "  - Tanh",
    "  - Conv2d: [32, 16, 3, 1, 1]",
    "  - Tanh",
    "  - Conv2d: [16, 9, 3, 1, 1]",
    "  - PixelShuffle: 3",
    "  - Sigmoid"),
    randn("model_espcn", 2, 1, 17, 17), scale="fan_in")

# a 3-D convolutional net for volumes / video clips (C3D-like, small)
case("model_conv3d_net", L(
    "input: [N, 2, 8, 16, 16]",
    "layers:",
    "  - Conv3d: {in_channels: 2, out_channels: 8, kernel_size: 3, padding: 1}",
    "  - BatchNorm3d: 8",
    "  - ReLU",
    "  - MaxPool3d: {kernel_size: [1, 2, 2]}",
    "  - Conv3d: {in_channels: 8, out_channels: 16, kernel_size: 3, padding: 1}",
    "  - BatchNorm3d: 16",
    "  - ReLU",
    "  - MaxPool3d: 2",
    "  - Conv3d: {in_channels: 16, out_channels: 16, kernel_size: [3, 3, 3], stride: [1, 2, 2], padding: 1}",
    "  - ReLU",
    "  - AdaptiveAvgPool3d: 1",
    "  - Flatten",
    "  - Linear: [16, 5]"),
    randn("model_conv3d_net", 2, 2, 8, 16, 16), scale="fan_in")
