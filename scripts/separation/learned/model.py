"""The drums/bass mask network: a small temporal convolution network over log-magnitude frames.

Input: STFT magnitudes `[batch, 2 channels, frames, 512 bins]` (1024-point periodic Hann, hop 256,
centred, 22.05 kHz, bins 0..511). Output: sigmoid masks `[batch, 2 stems (drums, bass), 2 channels,
frames, 512]`; "other" is whatever the masks leave. Each channel goes through the same weights:
log compression and a per-bin normalisation (inside the graph, so the engine feeds plain
magnitudes), a dense encoder of each frame to `hidden` features, five residual dilated
convolutions along time (dilations 1-16: +-62 frames, 0.7 s, of context each side), and a dense
decoder of each frame to the two stems' masks. Frame-wise dense layers know which octave they look
at (bass vs kick vs piano) and cost little on a CPU; the temporal convolutions see onsets and
sustained notes.
"""

import torch
from torch import nn

RATE = 22050
N_FFT = 1024
HOP = 256
BINS = 512
STEMS = ["drums", "bass"]
DILATIONS = (1, 2, 4, 8, 16)
CONTEXT = 2 * sum(DILATIONS) // 2  # frames each side one output frame depends on


class MaskNet(nn.Module):
    """Dense per-frame encoder, residual dilated temporal convolutions, dense per-frame decoder."""

    def __init__(self, hidden=64):
        super().__init__()
        self.norm = nn.BatchNorm1d(BINS)
        self.encode = nn.Sequential(nn.Conv1d(BINS, hidden, 1, bias=False), nn.BatchNorm1d(hidden), nn.ReLU())
        self.temporal = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(hidden, hidden, 3, padding=d, dilation=d, bias=False), nn.BatchNorm1d(hidden), nn.ReLU()
            )
            for d in DILATIONS
        )
        self.decode = nn.Conv1d(2 * hidden, len(STEMS) * BINS, 1)

    def forward(self, magnitude):
        b, c, t, f = magnitude.shape
        x = self.norm(torch.log1p(magnitude).reshape(b * c, t, f).transpose(1, 2))
        first = self.encode(x)
        x = first
        for layer in self.temporal:
            x = x + layer(x)
        masks = torch.sigmoid(self.decode(torch.cat([x, first], 1)))
        return masks.reshape(b, c, len(STEMS), f, t).permute(0, 2, 1, 4, 3)


def stft(audio):
    """`[batch, 2, samples]` -> complex `[batch, 2, frames, BINS]`, as the engine's Stft does it."""
    b, c, n = audio.shape
    window = torch.hann_window(N_FFT, periodic=True, device=audio.device)
    z = torch.stft(
        audio.reshape(b * c, n), N_FFT, HOP, window=window, center=True, pad_mode="constant", return_complex=True
    )
    return z[:, :BINS, :].transpose(1, 2).reshape(b, c, -1, BINS)
