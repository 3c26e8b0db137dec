"""
Random-weight ONNX exports of SD 1.5's two parts with large activations, for `npm run bench --
sd15-memory`: the UNet (diffusers UNet2DConditionModel with the v1-5 config, 859,520,964
parameters) and the VAE decoder (AutoencoderKL's decoder with post_quant_conv, 49,490,199), written
out in plain torch from the published architecture and exported as diffusers' export script does
(opset 14; dynamic batch, height and width; the UNet's weights as external data). Memory and step
time do not depend on the weights' values, so these measure what a worker with SD 1.5 needs.

Usage: python3 export.py OUT_DIR   (needs torch: Debian's python3-torch, or pip install torch)
Writes OUT_DIR/unet/model.onnx (+ weight files) and OUT_DIR/vae_decoder/model.onnx.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

G = 32
class Resnet(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.norm1 = nn.GroupNorm(G, i, eps=1e-5); self.conv1 = nn.Conv2d(i, o, 3, padding=1)
        self.time_emb_proj = nn.Linear(1280, o)
        self.norm2 = nn.GroupNorm(G, o, eps=1e-5); self.conv2 = nn.Conv2d(o, o, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(i, o, 1) if i != o else None
    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h

class Attention(nn.Module):
    def __init__(self, c, ctx=None, heads=8):
        super().__init__()
        self.heads = heads; self.scale = (c // heads) ** -0.5
        self.to_q = nn.Linear(c, c, bias=False); self.to_k = nn.Linear(ctx or c, c, bias=False)
        self.to_v = nn.Linear(ctx or c, c, bias=False); self.to_out = nn.Linear(c, c)
    def split(self, t):
        b, n, c = t.shape
        return t.reshape(b, n, self.heads, c // self.heads).permute(0, 2, 1, 3).reshape(b * self.heads, n, c // self.heads)
    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        q, k, v = self.split(self.to_q(x)), self.split(self.to_k(ctx)), self.split(self.to_v(ctx))
        p = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * self.scale, dim=-1)
        o = torch.bmm(p, v)
        bh, n, d = o.shape
        o = o.reshape(bh // self.heads, self.heads, n, d).permute(0, 2, 1, 3).reshape(bh // self.heads, n, self.heads * d)
        return self.to_out(o)

class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = nn.GroupNorm(G, c, eps=1e-6); self.proj_in = nn.Conv2d(c, c, 1); self.proj_out = nn.Conv2d(c, c, 1)
        self.norm1 = nn.LayerNorm(c); self.attn1 = Attention(c)
        self.norm2 = nn.LayerNorm(c); self.attn2 = Attention(c, 768)
        self.norm3 = nn.LayerNorm(c); self.ff_in = nn.Linear(c, 8 * c); self.ff_out = nn.Linear(4 * c, c)
    def forward(self, x, ctx):
        b, c, h, w = x.shape
        r = x
        t = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(b, h * w, c)
        t = self.attn1(self.norm1(t)) + t
        t = self.attn2(self.norm2(t), ctx) + t
        a, gate = self.ff_in(self.norm3(t)).chunk(2, dim=-1)
        t = self.ff_out(a * F.gelu(gate)) + t
        return self.proj_out(t.reshape(b, h, w, c).permute(0, 3, 1, 2)) + r

class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        ch = [320, 640, 1280, 1280]
        self.conv_in = nn.Conv2d(4, 320, 3, padding=1)
        self.time1 = nn.Linear(320, 1280); self.time2 = nn.Linear(1280, 1280)
        self.down = nn.ModuleList(); skips = [320]; prev = 320
        for i, c in enumerate(ch):
            blk = nn.Module()
            blk.resnets = nn.ModuleList([Resnet(prev if j == 0 else c, c) for j in range(2)])
            blk.attns = nn.ModuleList([Transformer(c) for _ in range(2)]) if i < 3 else None
            blk.down = nn.Conv2d(c, c, 3, stride=2, padding=1) if i < 3 else None
            self.down.append(blk); skips += [c, c] + ([c] if i < 3 else []); prev = c
        self.mid_res1 = Resnet(1280, 1280); self.mid_attn = Transformer(1280); self.mid_res2 = Resnet(1280, 1280)
        rch = list(reversed(ch)); self.up = nn.ModuleList(); prev = 1280
        for i, c in enumerate(rch):
            blk = nn.Module(); res = []
            for j in range(3):
                skip = skips.pop()
                res.append(Resnet((prev if j == 0 else c) + skip, c))
            blk.resnets = nn.ModuleList(res)
            blk.attns = nn.ModuleList([Transformer(c) for _ in range(3)]) if i > 0 else None
            blk.up = nn.Conv2d(c, c, 3, padding=1) if i < 3 else None
            self.up.append(blk); prev = c
        self.norm_out = nn.GroupNorm(G, 320, eps=1e-5); self.conv_out = nn.Conv2d(320, 4, 3, padding=1)
    def forward(self, sample, timestep, encoder_hidden_states):
        half = 160
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        args = timestep[:, None].float() * freqs[None]
        temb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        temb = self.time2(F.silu(self.time1(temb)))
        h = self.conv_in(sample); hs = [h]
        for blk in self.down:
            for j, r in enumerate(blk.resnets):
                h = r(h, temb)
                if blk.attns is not None: h = blk.attns[j](h, encoder_hidden_states)
                hs.append(h)
            if blk.down is not None: h = blk.down(h); hs.append(h)
        h = self.mid_res2(self.mid_attn(self.mid_res1(h, temb), encoder_hidden_states), temb)
        for blk in self.up:
            for j, r in enumerate(blk.resnets):
                h = r(torch.cat([h, hs.pop()], dim=1), temb)
                if blk.attns is not None: h = blk.attns[j](h, encoder_hidden_states)
            if blk.up is not None: h = blk.up(F.interpolate(h, scale_factor=2.0, mode='nearest'))
        return self.conv_out(F.silu(self.norm_out(h)))

class VaeResnet(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.norm1 = nn.GroupNorm(G, i, eps=1e-6); self.conv1 = nn.Conv2d(i, o, 3, padding=1)
        self.norm2 = nn.GroupNorm(G, o, eps=1e-6); self.conv2 = nn.Conv2d(o, o, 3, padding=1)
        self.short = nn.Conv2d(i, o, 1) if i != o else None
    def forward(self, x):
        h = self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))
        return (self.short(x) if self.short is not None else x) + h
class Attn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = nn.GroupNorm(G, c, eps=1e-6); self.q = nn.Linear(c, c); self.k = nn.Linear(c, c); self.v = nn.Linear(c, c); self.o = nn.Linear(c, c)
    def forward(self, x):
        b, c, h, w = x.shape
        t = self.norm(x).reshape(b, c, h * w).transpose(1, 2)
        p = torch.softmax(torch.bmm(self.q(t), self.k(t).transpose(1, 2)) * c ** -0.5, dim=-1)
        return self.o(torch.bmm(p, self.v(t))).transpose(1, 2).reshape(b, c, h, w) + x
class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.post_quant_conv = nn.Conv2d(4, 4, 1); self.conv_in = nn.Conv2d(4, 512, 3, padding=1)
        self.mid1 = VaeResnet(512, 512); self.mid_attn = Attn(512); self.mid2 = VaeResnet(512, 512)
        self.ups = nn.ModuleList(); prev = 512
        for i, c in enumerate([512, 512, 256, 128]):
            blk = nn.Module(); blk.res = nn.ModuleList([VaeResnet(prev if j == 0 else c, c) for j in range(3)])
            blk.up = nn.Conv2d(c, c, 3, padding=1) if i < 3 else None
            self.ups.append(blk); prev = c
        self.norm_out = nn.GroupNorm(G, 128, eps=1e-6); self.conv_out = nn.Conv2d(128, 3, 3, padding=1)
    def forward(self, latent_sample):
        h = self.mid2(self.mid_attn(self.mid1(self.conv_in(self.post_quant_conv(latent_sample)))))
        for blk in self.ups:
            for r in blk.res: h = r(h)
            if blk.up is not None: h = blk.up(F.interpolate(h, scale_factor=2.0, mode='nearest'))
        return self.conv_out(F.silu(self.norm_out(h)))


def main(out_dir):
    torch.manual_seed(0)
    for name, model, inputs, input_names, output_name, axes in [
        ('unet', UNet(), (torch.randn(2, 4, 8, 8), torch.tensor([1.0, 1.0]), torch.randn(2, 77, 768)),
         ['sample', 'timestep', 'encoder_hidden_states'], 'out_sample',
         {'sample': {0: 'batch', 2: 'height', 3: 'width'}, 'timestep': {0: 'batch'},
          'encoder_hidden_states': {0: 'batch', 1: 'sequence'}}),
        ('vae_decoder', Decoder(), (torch.randn(1, 4, 8, 8),), ['latent_sample'], 'sample',
         {'latent_sample': {0: 'batch', 2: 'height', 3: 'width'}}),
    ]:
        model.eval()
        print(name, 'parameters', sum(p.numel() for p in model.parameters()), flush=True)
        os.makedirs(os.path.join(out_dir, name), exist_ok=True)
        with torch.no_grad():
            torch.onnx.export(model, inputs, os.path.join(out_dir, name, 'model.onnx'), input_names=input_names,
                              output_names=[output_name], dynamic_axes=axes, opset_version=14)


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: python3 export.py OUT_DIR')
    main(sys.argv[1])
