"""The models tests/export_fx.py exports: modules as people write them
(not nn.Sequential), and ones seqrun must refuse.  Keep the source lines of
the refused constructs stable-ish: the tests find them by their text."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """The PyTorch CIFAR-10 tutorial's network, verbatim."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


class SimpleClassifier(nn.Module):
    """A module holding one nn.Sequential."""

    def __init__(self, n_in=20, hidden=32, n_out=4):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(hidden, n_out))

    def forward(self, x):
        return self.model(x)


class LeNet(nn.Module):
    """LeNet-5 with x.view(x.size(0), -1), functional pools and activations."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(torch.tanh(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, 0.3, training=self.training)
        x = self.fc2(x).sigmoid()
        return F.log_softmax(self.fc3(x), dim=1)


class OldLeNet(nn.Module):
    """The old tutorial's x.view(-1, 16 * 5 * 5), and a shared activation module."""

    def __init__(self, flat=16 * 5 * 5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.act = nn.ReLU()
        self.fc1 = nn.Linear(flat, 10)
        self.flat = flat

    def forward(self, x):
        x = F.max_pool2d(self.act(self.conv1(x)), 2)
        x = F.max_pool2d(self.act(self.conv2(x)), 2)
        x = x.view(-1, self.flat)
        return self.fc1(x)


class Stack(nn.Module):
    """Layers kept in an nn.ModuleList and applied in a loop; a block module
    with its own forward; in-place activations; a reused (tied) Linear."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(8) for _ in range(3)])
        self.proj = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x, mask=None):
        if mask is not None:
            x = x * mask
        for b in self.blocks:
            x = b(x)
        x = self.proj(x)
        x.relu_()
        x = self.proj(x)
        return self.head(x).softmax(dim=-1)


class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.norm = nn.LayerNorm(n)

    def forward(self, x):
        return F.gelu(self.norm(self.fc(x)))


class Functional(nn.Module):
    """Functional calls and tensor methods for layers the seqrun of session 2
    did not have (F.pad, F.hardswish, F.interpolate, ...), pooling by mean."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.body = nn.Conv2d(8, 8, 3)
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        x = F.pad(x, (1, 1, 2, 0), mode="reflect")
        x = F.hardswish(self.stem(x))
        x = F.group_norm(x, 2)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.leaky_relu(self.body(x), 0.2)
        x = F.avg_pool2d(x, 2, ceil_mode=True)
        x = F.pixel_shuffle(x, 2)
        x = F.pixel_unshuffle(x, 2)
        x = x.mean((2, 3))
        x = x.clamp(0, 6).unsqueeze(-1).squeeze(-1)
        return F.softmin(self.head(x), 1)


class Functional1(nn.Module):
    """Functional calls for layers seqrun has had since session 2."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.conv1d = nn.Conv1d(6, 4, 3)
        self.fc = nn.Linear(4, 6)

    def forward(self, x):
        x = F.avg_pool2d(F.leaky_relu(self.conv(x), negative_slope=0.1), 2, stride=1, padding=1,
                         count_include_pad=False)
        x = F.adaptive_max_pool2d(F.silu(x), (3, 5))
        x = F.adaptive_avg_pool2d(F.gelu(x), (1, 4)).squeeze(2)
        x = F.max_pool1d(torch.relu(self.conv1d(x)), 2, ceil_mode=True)
        x = F.adaptive_avg_pool1d(F.elu(x, alpha=0.5), 1).flatten(1)
        x = F.softplus(self.fc(x), beta=2.0)
        x = F.layer_norm(F.hardtanh(x, -0.5, 0.5), (6,), eps=1e-3)
        return torch.log_softmax(F.relu6(x), dim=-1)


class Reshapes(nn.Module):
    """Reshapes: x.reshape(N, C, H, W) from a vector, x.flatten(1)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 48)
        self.conv = nn.Conv2d(3, 2, 3, padding=1)

    def forward(self, x):
        x = self.fc(x)
        x = x.reshape(x.shape[0], 3, 4, 4)
        x = F.elu(self.conv(x))
        return x.flatten(1)


# ---- refused ------------------------------------------------------------------

class ResidualBlock(nn.Module):
    """ResNet's BasicBlock."""

    def __init__(self, c=4):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Concat(nn.Module):
    """Two branches joined by torch.cat."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 5)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], dim=1)


class DataBranch(nn.Module):
    """A branch on a tensor's value."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            x = self.fc(x)
        return x


class Many(nn.Module):
    """Everything wrong at once: every problem must be named in one run."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3, padding=1)
        self.lstm = nn.LSTM(4, 4, batch_first=True)
        self.gru = nn.GRU(4, 4, batch_first=True)
        self.scale = nn.Parameter(torch.ones(4))

    def forward(self, x):
        y = self.conv(x) + x
        y = y.transpose(1, 2)
        y, _ = self.lstm(y)
        y, _ = self.gru(y)
        return y * self.scale


class WrongView(OldLeNet):
    """x.view(-1, K) where K is not a sample's size: the batch would change."""

    def __init__(self):
        super().__init__(flat=16 * 5 * 5 // 2)


class MiniVGG(nn.Module):
    """torchvision's VGG layout at toy size: features, avgpool, flatten, classifier."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 2 * 2, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 10))

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x


class AlwaysDropout(nn.Module):
    """F.dropout without training=self.training: random in eval mode too."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return F.dropout(self.fc(x), 0.5)
