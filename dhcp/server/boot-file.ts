// Which boot file a PXE client gets. Legacy PXE ROMs announce themselves with option 60
// "PXEClient:Arch:xxxxx:..." and option 93 (RFC 4578 architecture); iPXE additionally sends user
// class (option 77) "iPXE" and its encapsulated options (175). A ROM gets a network boot program
// (e.g. undionly.kpxe / ipxe.efi); iPXE, once running, gets its script (e.g. boot.ipxe), which
// breaks the loop of iPXE chain-loading itself.
import { DhcpOption, readString, readU16 } from './dhcp-options.js';

export interface BootFiles {
  /** For iPXE clients: usually an iPXE script. */
  ipxe?: string;
  /** For legacy PXE on x86 BIOS (arch 0). */
  bios?: string;
  /** For UEFI x86-64 (arch 7 or 9). */
  efi64?: string;
  /** For anything else (other architectures, plain DHCP clients asking for a file). */
  fallback?: string;
}

export type ClientFirmware = 'ipxe' | 'pxe-bios' | 'pxe-efi64' | 'pxe-other' | 'plain';

/** RFC 4578 section 2.1 processor architecture types. */
export const ARCH_X86_BIOS = 0;
export const ARCH_EFI_BC = 7;
export const ARCH_EFI_X86_64 = 9;

export function classifyClient(options: ReadonlyMap<number, Uint8Array>): ClientFirmware {
  const userClass = options.get(DhcpOption.USER_CLASS);
  if ((userClass && Buffer.from(userClass).includes('iPXE')) || options.has(DhcpOption.IPXE_ENCAPSULATED)) return 'ipxe';
  const vendorClass = readString(options.get(DhcpOption.VENDOR_CLASS_ID));
  const arch = readU16(options.get(DhcpOption.CLIENT_ARCH));
  if (!vendorClass?.startsWith('PXEClient') && arch === undefined) return 'plain';
  if (arch === undefined || arch === ARCH_X86_BIOS) return 'pxe-bios';
  if (arch === ARCH_EFI_BC || arch === ARCH_EFI_X86_64) return 'pxe-efi64';
  return 'pxe-other';
}

export function bootFileFor(files: BootFiles, firmware: ClientFirmware): string | undefined {
  switch (firmware) {
    case 'ipxe':
      return files.ipxe ?? files.fallback;
    case 'pxe-bios':
      return files.bios ?? files.fallback;
    case 'pxe-efi64':
      return files.efi64 ?? files.fallback;
    default:
      return files.fallback;
  }
}
