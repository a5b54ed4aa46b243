package btfc

import "fmt"

// CountTypes returns how many types raw BTF defines (void not counted),
// checking the header and each type's bounds but building nothing: what
// `kheaders inspect` reports. Errors wrap ErrMalformed.
func CountTypes(raw []byte) (int, error) {
	bo, types, _, err := rawSections(raw)
	if err != nil {
		return 0, err
	}
	n := 0
	for buf := types; len(buf) > 0; n++ {
		if len(buf) < 12 {
			return n, fmt.Errorf("%w: BTF type %d: header truncated", ErrMalformed, n+1)
		}
		info := bo.Uint32(buf[4:])
		extra, ok := rawExtra(uint8(info>>24&0x1f), uint64(info&0xffff))
		if !ok {
			return n, fmt.Errorf("%w: BTF type %d: unknown kind %d", ErrMalformed, n+1, info>>24&0x1f)
		}
		if uint64(len(buf))-12 < extra {
			return n, fmt.Errorf("%w: BTF type %d: data truncated", ErrMalformed, n+1)
		}
		buf = buf[12+extra:]
	}
	return n, nil
}
