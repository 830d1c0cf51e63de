"""ISIC 2019 classifiers and a U-Net (Verdeguer 2020, bachelor's thesis, in Spanish)."""
